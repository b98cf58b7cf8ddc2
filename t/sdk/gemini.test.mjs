// Conformance of the gateway's Gemini surface with the official
// "@google/genai" npm SDK: Gemini clients (generateContent,
// generateContentStream) of the OpenAI-format mock providers of
// conf-examples/quickstart.conf (the canned answers below are theirs).
//
// t/073-sdk-gemini.t starts nginx on a free port and runs this file; by
// hand, with "make run" in another terminal and no provider keys in its
// environment:
//
//   GEMINI_BASE_URL=http://127.0.0.1:8080 node --test t/sdk/gemini.test.mjs
//
// The SDK is loaded from build/sdk (npm install --prefix build/sdk, from
// t/sdk/package.json) or from $GEMINI_SDK_DIR.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.GEMINI_SDK_DIR
    ?? path.join(here, '..', '..', 'build', 'sdk');
const require = createRequire(path.join(sdkDir, 'package.json'));
const { GoogleGenAI, Type, ApiError } = require('@google/genai');

// the SDK appends /v1beta/models/{model}:generateContent itself
const baseUrl = process.env.GEMINI_BASE_URL ?? 'http://127.0.0.1:8080';

// the gateway holds the provider keys; this one goes nowhere
const ai = new GoogleGenAI({
    apiKey: 'gemini-gateway-test',
    httpOptions: { baseUrl, timeout: 10_000 },
});

const weather = {
    functionDeclarations: [{
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: {
            type: Type.OBJECT,
            properties: { city: { type: Type.STRING } },
            required: ['city'],
        },
    }],
};

const answer = (model) =>
    `Hello from ${model}! This is a canned answer from the nginx quickstart mock.`;


test('generateContent: text, finishReason, usageMetadata', async () => {
    const res = await ai.models.generateContent({
        model: 'gpt-4o-mini',
        contents: 'Hello!',
        config: { systemInstruction: 'You are terse.', maxOutputTokens: 64,
                  temperature: 0.2 },
    });

    assert.equal(res.text, answer('gpt-4o-mini'));
    assert.equal(res.candidates[0].finishReason, 'STOP');
    assert.equal(res.candidates[0].content.role, 'model');
    assert.equal(res.modelVersion, 'gpt-4o-mini');
    assert.match(res.responseId, /^chatcmpl-/);
    assert.equal(res.usageMetadata.promptTokenCount, 12);
    assert.equal(res.usageMetadata.candidatesTokenCount, 14);
    assert.equal(res.usageMetadata.totalTokenCount, 26);
});

test('generateContent: a function call, then its response', async () => {
    const contents = [{ role: 'user', parts: [{ text: 'Weather in Paris?' }] }];

    const first = await ai.models.generateContent({
        model: 'gpt-4o-mini', contents, config: { tools: [weather] },
    });

    assert.equal(first.functionCalls.length, 1);
    assert.equal(first.functionCalls[0].name, 'get_weather');
    assert.deepEqual(first.functionCalls[0].args, { city: 'Paris' });

    contents.push(first.candidates[0].content);
    contents.push({ role: 'user', parts: [{ functionResponse: {
        name: 'get_weather', response: { output: '18C, sunny' } } }] });

    const res = await ai.models.generateContent({
        model: 'gpt-4o-mini', contents, config: { tools: [weather] },
    });

    assert.equal(res.text, answer('gpt-4o-mini'));
});

test('generateContentStream: text deltas, the last with usage', async () => {
    const stream = await ai.models.generateContentStream({
        model: 'gpt-4o-mini',
        contents: 'Hello!',
    });

    let text = '';
    let last;

    for await (const chunk of stream) {
        text += chunk.text ?? '';
        last = chunk;
    }

    assert.equal(text, answer('gpt-4o-mini'));
    assert.equal(last.candidates[0].finishReason, 'STOP');
    assert.equal(last.usageMetadata.totalTokenCount, 26);
});

test('generateContentStream: a function call whole', async () => {
    const stream = await ai.models.generateContentStream({
        model: 'gpt-4o-mini',
        contents: 'Weather in Paris?',
        config: { tools: [weather] },
    });

    const calls = [];

    for await (const chunk of stream) {
        calls.push(...(chunk.functionCalls ?? []));
    }

    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'get_weather');
    assert.deepEqual(calls[0].args, { city: 'Paris' });
});

test('unknown model: ApiError 404 NOT_FOUND', async () => {
    await assert.rejects(
        ai.models.generateContent({ model: 'gemini-nope', contents: 'Hi' }),
        (err) => {
            assert.ok(err instanceof ApiError, err.constructor.name);
            assert.equal(err.status, 404);
            assert.match(err.message, /NOT_FOUND/);
            return true;
        });
});
