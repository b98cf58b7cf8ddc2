#!/usr/bin/perl

# The official "openai" npm SDK through a fallback: conf-examples/
# fallback.conf (primaries that answer 529 and 429 + Retry-After,
# fallbacks of the other provider type) started by t/bin/run-quickstart,
# t/sdk/fallback-openai.test.mjs run against it (t/LLMSDK.pm).

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/..";
use t::LLMSDK;

t::LLMSDK::run_sdk_tests(
    package    => 'openai',
    npm_what   => 'the openai package',
    files      => [qw(t/sdk/fallback-openai.test.mjs)],
    env_prefix => 'OPENAI',
    base_path  => '/v1',
    conf       => 'conf-examples/fallback.conf',
    access_log => qr{"POST /v1/chat/completions HTTP/1\.1" 200 model=claude-sonnet-4-5 provider=mock-openai upstream_model=gpt-4o-mini attempts=2 reason="529 from mock-overloaded"},
);
