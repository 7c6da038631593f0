// Package otelauditexporter is the otelaudit exporter for the OpenTelemetry
// Collector (component type "otelaudit"): it turns the GenAI spans of OTLP
// traces into tamper-evident audit entries in a file store or an S3
// bucket, through the same conversion and write path as the Go SDK's
// exporter.New, so an entry written from OTLP equals the one the SDK
// exporter writes for the same span (ids, hashes, tokens, model,
// operation, metadata). Spans that are not GenAI spans (no
// gen_ai.operation.name, gen_ai.provider.name or gen_ai.system) are
// skipped.
//
// Configuration (keys fixed):
//
//	exporters:
//	  otelaudit:
//	    directory: /var/lib/otelcol/audit   # or:
//	    # s3: {bucket: audit, prefix: prod, endpoint: http://127.0.0.1:7070, region: eu-west-1}
//	    content: hash                       # hash (default) | encrypt | plaintext
//	    # key_file: /etc/otelcol/audit.keys # or key_env: OTELAUDIT_KEY (content: encrypt)
//	    # hash_key_file: /etc/otelcol/hash.key
//	    # checkpoint_key_file: /etc/otelcol/checkpoint.key
//	    timeout: 30s
//	    retry_on_failure: {enabled: true, max_elapsed_time: 0}   # the default: no end
//	    sending_queue: {storage: file_storage}   # persistent queue: survives a crash
//
// Bad configuration is an error when the Collector starts, never a silent
// default. The S3 credentials come from the AWS default chain
// (AWS_ACCESS_KEY_ID, profiles, instance roles).
package otelauditexporter
