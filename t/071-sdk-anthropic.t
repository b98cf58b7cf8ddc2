#!/usr/bin/perl

# Conformance of the Anthropic Messages surface with the official
# "@anthropic-ai/sdk" npm SDK: the quickstart configuration
# (conf-examples/quickstart.conf, OpenAI-format mock providers) started by
# t/bin/run-quickstart on a free port, and t/sdk/anthropic.test.mjs run
# against it with node's test runner: requests, answers, streams and
# errors translated both ways.
#
# The harness is t/LLMSDK.pm, shared with t/070-sdk.t and t/073-sdk-gemini.t.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/..";
use t::LLMSDK;

t::LLMSDK::run_sdk_tests(
    package    => '@anthropic-ai/sdk',
    files      => ['t/sdk/anthropic.test.mjs'],
    env_prefix => 'ANTHROPIC',
    base_path  => '',    # the SDK appends /v1/messages
    access_log => qr{"POST /v1/messages HTTP/1\.1" 200 model=gpt-4o-mini },
);
