import { ArrayMaxSize, IsOptional, Validate, type ValidationArguments, ValidatorConstraint, type ValidatorConstraintInterface } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { DateTime } from '../shared/scalars';

/** A range that ends where it starts, or before, holds nothing: refused, as the export refuses it. */
@ValidatorConstraint({ name: 'laterThanFrom' })
class LaterThanFrom implements ValidatorConstraintInterface {
  validate(_to: unknown, args: ValidationArguments): boolean {
    return !endsBeforeItStarts(args.object as AuditFilter);
  }

  defaultMessage(): string {
    return TO_NOT_LATER;
  }
}

export const TO_NOT_LATER = 'to must be later than from';

/** Whether a filter's time range ends where it starts, or before. */
export function endsBeforeItStarts(filter: Pick<AuditFilter, 'from' | 'to'>): boolean {
  return filter.to instanceof Date && filter.from instanceof Date && filter.to.getTime() <= filter.from.getTime();
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
