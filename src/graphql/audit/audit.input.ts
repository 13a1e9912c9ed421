import { ArrayMaxSize, IsOptional, Validate, type ValidationArguments, ValidatorConstraint, type ValidatorConstraintInterface } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { DateTime } from '../shared/scalars';

/** A range that ends where it starts, or before, holds nothing: refused, as the export refuses it. */
@ValidatorConstraint({ name: 'laterThanFrom' })
class LaterThanFrom implements ValidatorConstraintInterface {
  validate(to: unknown, args: ValidationArguments): boolean {
    const from = (args.object as AuditFilter).from;
    return !(to instanceof Date && from instanceof Date) || to.getTime() > from.getTime();
  }

  defaultMessage(): string {
    return 'to must be later than from';
  }
}

@InputType({ description: 'Every given field must match.' })
export class AuditFilter {
  @Field(() => ID, { nullable: true })
  organizationId?: string;

  @Field(() => ID, { nullable: true })
  planId?: string;

  @Field(() => ID, { nullable: true })
  credentialId?: string;

  @Field(() => ID, { nullable: true })
  actorId?: string;

  @Field(() => [String], { nullable: true, description: 'Event types, such as PlanCredentialToggled.' })
  @IsOptional()
  @ArrayMaxSize(100)
  types?: string[];

  @Field(() => DateTime, { nullable: true, description: 'From this instant, inclusive.' })
  from?: Date;

  @Field(() => DateTime, { nullable: true, description: 'Until this instant, exclusive; later than from.' })
  @Validate(LaterThanFrom)
  to?: Date;
}
