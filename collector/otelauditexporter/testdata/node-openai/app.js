'use strict';
// A Node service as fleets run it: the official openai client, traced by
// @opentelemetry/instrumentation-openai with captureMessageContent on, the
// spans and the GenAI log events exported over OTLP/HTTP protobuf. The Go
// test TestNodeOpenAIInstrumentation runs it against a fake OpenAI server
// and bin/otelcol-audit.
//
// Environment: OTLP_ENDPOINT (http://127.0.0.1:PORT of the Collector's
// OTLP/HTTP receiver), OPENAI_BASE_URL (the fake server), CALLS (how many
// chat calls). It prints, as one JSON array on stdout, each call's trace id,
// prompt, answer, response model and token counts as the client saw them.
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-proto');
const { BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OpenAIInstrumentation } = require('@opentelemetry/instrumentation-openai');

const endpoint = process.env.OTLP_ENDPOINT;
const sdk = new NodeSDK({
  serviceName: 'node-openai',
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint + '/v1/traces' }))],
  logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: endpoint + '/v1/logs' }) })],
  instrumentations: [new OpenAIInstrumentation({ captureMessageContent: true })],
});
sdk.start();

// Required after start: the instrumentation patches the module on require.
const { trace } = require('@opentelemetry/api');
const { OpenAI } = require('openai');

async function main() {
  const client = new OpenAI({ apiKey: 'test-key', baseURL: process.env.OPENAI_BASE_URL });
  const tracer = trace.getTracer('node-openai-test');
  const n = Number(process.env.CALLS || 20);
  const calls = [];
  for (let i = 0; i < n; i++) {
    const prompt = `node prompt ${i}: what is ${i} plus ${i}? é ✓`;
    await tracer.startActiveSpan('handle request', async (span) => {
      try {
        const res = await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [
            { role: 'system', content: `be brief, call ${i}` },
            { role: 'user', content: prompt },
          ],
        });
        calls.push({
          trace_id: span.spanContext().traceId,
          system: `be brief, call ${i}`,
          prompt,
          answer: res.choices[0].message.content,
          model: res.model,
          input_tokens: res.usage.prompt_tokens,
          output_tokens: res.usage.completion_tokens,
        });
      } finally {
        span.end();
      }
    });
  }
  await sdk.shutdown(); // flushes the spans and the log events
  process.stdout.write(JSON.stringify(calls) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
