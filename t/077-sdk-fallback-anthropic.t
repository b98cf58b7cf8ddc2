#!/usr/bin/perl

# The official "@anthropic-ai/sdk" npm SDK through a fallback:
# conf-examples/fallback.conf, t/sdk/fallback-anthropic.test.mjs
# (t/LLMSDK.pm).

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/..";
use t::LLMSDK;

t::LLMSDK::run_sdk_tests(
    package    => '@anthropic-ai/sdk',
    npm_what   => 'the @anthropic-ai/sdk package',
    files      => [qw(t/sdk/fallback-anthropic.test.mjs)],
    env_prefix => 'ANTHROPIC',
    base_path  => '',
    conf       => 'conf-examples/fallback.conf',
    access_log => qr{"POST /v1/messages HTTP/1\.1" 200 model=claude-sonnet-4-5 provider=mock-openai upstream_model=gpt-4o-mini attempts=2 reason="529 from mock-overloaded"},
);
