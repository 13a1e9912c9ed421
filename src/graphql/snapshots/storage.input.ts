import { IsNotEmpty, IsOptional, IsUrl, Matches, MaxLength, ValidateBy, ValidateNested } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { PlainText } from '../shared/plain-text';
import { StorageKind } from './snapshot.type';

/** S3's bucket naming rules: 3 to 63 of a-z 0-9 . -, a letter or digit at each end, no '..', '.-' or '-.', not an IP address, no reserved prefix or suffix. */
const BUCKET = /^(?!\d{1,3}(\.\d{1,3}){3}$)(?!xn--|sthree-)(?!.*(\.\.|\.-|-\.))(?!.*(-s3alias|--ol-s3)$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Relative, of plain path segments, never '.' and no '..' anywhere; a trailing '/' is dropped. */
const PREFIX = /^(?!\/)(?!.*\.\.)(?!(.*\/)?\.(\/|$))([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?)?$/;

/** kind S3 comes with s3, LOCAL without. */
function MatchesLocation(): PropertyDecorator {
  return ValidateBy({
    name: 'matchesLocation',
    validator: {
      validate: (kind, args) => (kind === StorageKind.S3) === ((args?.object as { s3?: unknown } | undefined)?.s3 != null),
      defaultMessage: () => 'kind S3 takes s3, the bucket and how to sign in; LOCAL takes no s3',
    },
  });
}

@InputType({ description: 'A bucket of an S3-compatible service, and how to sign in to it.' })
export class S3StorageInput {
  @Field(() => String, { nullable: true, description: "The service's URL (http or https), such as https://s3.eu-central-1.wasabisys.com; absent: AWS itself." })
  @IsOptional()
  @MaxLength(2048)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false, disallow_auth: true },
    { message: 'endpoint must be an http or https URL, without credentials' },
  )
  endpoint?: string | null;

  @Field(() => String)
  @Matches(BUCKET, { message: "bucket must follow S3's bucket naming rules: 3 to 63 of a-z, 0-9, '.' and '-', a letter or digit at each end" })
  bucket!: string;

  @Field(() => String, { defaultValue: 'us-east-1', description: 'The region requests are signed for.' })
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'region must be 1 to 64 of letters, digits, - and _' })
  region: string = 'us-east-1';

  @Field(() => String, { defaultValue: '', description: "Where the storage's objects go in the bucket, such as backplane/acme; empty: the bucket's root." })
  @MaxLength(512)
  @Matches(PREFIX, { message: "prefix must be a relative path of letters, digits, '.', '_' and '-', without '.' or '..' parts" })
  prefix: string = '';

  @Field(() => Boolean, { defaultValue: false, description: 'Name the bucket in the path rather than in the host name, as most S3-compatible servers want.' })
  forcePathStyle: boolean = false;

  @Field(() => String, { description: 'The access key id (not a secret).' })
  @Matches(/^[\x21-\x7e]{1,256}$/, { message: 'accessKeyId must be 1 to 256 printable ASCII characters without spaces' })
  accessKeyId!: string;

  @Field(() => ID, { description: 'The password manager entry that holds the secret access key: the secret is kept there, encrypted, and nowhere else.' })
  @IsNotEmpty({ message: 'passwordId must not be empty' })
  passwordId!: string;
}

@InputType({
  description:
    "A new storage. LOCAL: a folder of its own in Backplane's data folder, named by the storage's id; no path can be given, so that no tenant " +
    'makes the server write where it chooses. S3: a bucket, proven before it is added (a probe object is put, read back and removed).',
})
export class AddStorageInput {
  @Field(() => String)
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(100)
  @PlainText('name')
  name!: string;

  @Field(() => StorageKind)
  @MatchesLocation()
  kind!: StorageKind;

  @Field(() => S3StorageInput, { nullable: true, description: 'Required with S3, refused with LOCAL.' })
  @IsOptional()
  @ValidateNested()
  s3?: S3StorageInput | null;
}
