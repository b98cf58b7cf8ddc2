#!/usr/bin/perl

# Conformance with the official "openai" npm SDK: the quickstart
# configuration (conf-examples/quickstart.conf, mock providers) started by
# t/bin/run-quickstart on a free port, and t/sdk/openai.test.mjs and
# t/sdk/responses.test.mjs run against it with node's test runner.
#
# The harness (skips, npm install into build/sdk, nginx, the checks of
# its logs) is t/LLMSDK.pm, shared with t/071-sdk-anthropic.t and
# t/073-sdk-gemini.t.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/..";
use t::LLMSDK;

t::LLMSDK::run_sdk_tests(
    package    => 'openai',
    npm_what   => 'the openai package',
    files      => [qw(t/sdk/openai.test.mjs t/sdk/responses.test.mjs)],
    env_prefix => 'OPENAI',
    base_path  => '/v1',
    access_log =>
        qr{"POST /v1/chat/completions HTTP/1\.1" 200 model=gpt-4o-mini },
);
