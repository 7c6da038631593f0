// Package awskeys keeps otelaudit's content keys in AWS: a key ring held in
// AWS Secrets Manager ([SecretsManager], a [otelaudit.KeySource] for
// [otelaudit.NewKeyRing]) and envelope encryption under an AWS KMS key
// ([Envelope], a [otelaudit.Cipher]). It is its own package so that users
// without AWS do not compile the AWS SDK clients.
//
// Both take configured clients (*secretsmanager.Client, *kms.Client) or any
// value with the methods used, and never log or return key material.
package awskeys
