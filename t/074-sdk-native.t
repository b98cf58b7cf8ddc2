#!/usr/bin/perl

# The official SDKs (openai responses.create, @google/genai generateContent
# and generateContentStream and countTokens, @anthropic-ai/sdk
# messages.countTokens) through mocks of Anthropic, Gemini and an OpenAI
# that serves /v1/responses itself (t/sdk/native-mocks.conf, added to the
# quickstart): t/sdk/native.test.mjs.  The harness is t/LLMSDK.pm.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/..";
use t::LLMSDK;

t::LLMSDK::run_sdk_tests(
    package    => 'openai',
    npm_what   => 'the SDKs',
    files      => ['t/sdk/native.test.mjs'],
    env_prefix => 'NATIVE',
    base_path  => '',
    extra_conf => 't/sdk/native-mocks.conf',
    access_log =>
        qr{"POST /v1/responses HTTP/1\.1" 200 model=gpt-native }s,
);
