#!/usr/bin/perl

# Conformance of the Gemini surface with the official "@google/genai" npm
# SDK: the quickstart configuration (conf-examples/quickstart.conf,
# OpenAI-format mock providers) started by t/bin/run-quickstart on a free
# port, and t/sdk/gemini.test.mjs run against it with node's test runner:
# generateContent and generateContentStream, function calls, errors.
#
# The harness is t/LLMSDK.pm, shared with t/070-sdk.t and
# t/071-sdk-anthropic.t.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/..";
use t::LLMSDK;

t::LLMSDK::run_sdk_tests(
    package    => '@google/genai',
    files      => ['t/sdk/gemini.test.mjs'],
    env_prefix => 'GEMINI',
    # the SDK appends /v1beta/models/{model}:generateContent
    base_path  => '',
    access_log =>
        qr{"POST /v1(beta)?/models/gpt-4o-mini:generateContent HTTP/1\.1" 200 model=gpt-4o-mini },
);
