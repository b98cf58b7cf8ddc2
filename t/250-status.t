# llm_status: the counters of the llm zone, Prometheus text (0.0.4) and
# JSON.  Requests go through same-server mocks, then the status location
# is read: exact counter values, label values escaped, the labels from
# the configuration only (a model no route knows is "unrouted"), and the
# Prometheus output checked by "promtool check metrics" when the Debian
# package prometheus is installed.

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too

our $Key = 'sk-status-CANARY-0a1b2c3d4e5f';

our $Promtool = `sh -c 'command -v promtool' 2>/dev/null`;
chomp $Promtool;

our $HttpConfig = <<"_EOC_";
    llm_zone llm:256k;
    llm_provider mock type=openai upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_provider bad type=openai upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT
                 base=/bad key=none;

    llm_route gpt-4o mock;
    llm_route "~^q\\"\\\\d\$" mock;
    llm_route broken bad;

    llm_price gpt-4o input=2.50 output=10 cached=1.25;

    llm_key key=$Key name=app team=blue;
_EOC_

our $Config = <<'_EOC_';
    location /v1/ {
        llm_pass;
    }

    location = /metrics {
        llm_status;
    }

    location = /status.json {
        llm_status json;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":3}}}';
    }

    location = /bad/chat/completions {
        default_type application/json;
        return 500 '{"error":{"message":"boom","type":"server_error"}}';
    }
_EOC_

our $Chat = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
our $Esc = '{"model":"q\\"1","messages":[{"role":"user","content":"hi"}]}';
our $Unknown = '{"model":"client-made-up","messages":[{"role":"user",'
               . '"content":"hi"}]}';
our $Broken = '{"model":"broken","messages":[{"role":"user","content":"hi"}]}';

# every line given must be in the body, as a whole line
sub lines {
    my $re = join '', map { '(?=.*^' . quotemeta($_) . '$)' } @_;
    return qr/(?ms)\A$re/;
}

repeat_each(1);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', $::HttpConfig);
    }

    if (!defined $block->config) {
        $block->set_value('config', $::Config);
    }

    if (!defined $block->more_headers) {
        $block->set_value('more_headers', "Authorization: Bearer $::Key");
    }
});

run_tests();

__DATA__

=== TEST 1: Prometheus: requests, tokens, cost, attempts, histograms by
provider and model; per key and team totals
--- request eval
["POST /v1/chat/completions\n$::Chat", "POST /v1/chat/completions\n$::Chat",
 "GET /metrics"]
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
['', '', 'Content-Type: text/plain; version=0.0.4; charset=utf-8']
--- response_body_like eval
['"usage"', '"usage"', main::lines(
'# HELP llm_requests_total Requests by provider, model (the llm_route pattern) and status class.',
'# TYPE llm_requests_total counter',
'llm_requests_total{provider="mock",model="gpt-4o",status="2xx"} 2',
'# TYPE llm_tokens_total counter',
'llm_tokens_total{provider="mock",model="gpt-4o",type="prompt"} 22',
'llm_tokens_total{provider="mock",model="gpt-4o",type="completion"} 14',
'llm_tokens_total{provider="mock",model="gpt-4o",type="cached"} 6',
'llm_cost_dollars_total{provider="mock",model="gpt-4o"} 0.0001875',
'llm_upstream_attempts_total{provider="mock",model="gpt-4o"} 2',
'llm_upstream_retries_total{provider="mock",model="gpt-4o"} 0',
'llm_fallbacks_total{provider="mock",model="gpt-4o"} 0',
'# TYPE llm_requests_in_flight gauge',
'llm_requests_in_flight{provider="mock",model="gpt-4o"} 0',
'# TYPE llm_time_to_first_byte_seconds histogram',
'llm_time_to_first_byte_seconds_bucket{provider="mock",model="gpt-4o",le="0.1"} 2',
'llm_time_to_first_byte_seconds_bucket{provider="mock",model="gpt-4o",le="+Inf"} 2',
'llm_time_to_first_byte_seconds_count{provider="mock",model="gpt-4o"} 2',
'# TYPE llm_request_duration_seconds histogram',
'llm_request_duration_seconds_bucket{provider="mock",model="gpt-4o",le="60"} 2',
'llm_request_duration_seconds_count{provider="mock",model="gpt-4o"} 2',
'llm_key_requests_total{key="app"} 2',
'llm_key_responses_total{key="app",status="2xx"} 2',
'llm_key_tokens_total{key="app",type="prompt"} 22',
'llm_key_tokens_total{key="app",type="completion"} 14',
'llm_key_cost_dollars_total{key="app"} 0.0001875',
'llm_team_requests_total{team="blue"} 2',
'llm_team_cost_dollars_total{team="blue"} 0.0001875',
'llm_zone_evicted_total 0',
'llm_zone_refused_total 0')]
--- no_error_log
[error]



=== TEST 2: errors by class; a model no route knows is "unrouted", not a
series of its own
--- request eval
["POST /v1/chat/completions\n$::Unknown",
 "POST /v1/chat/completions\n$::Broken", "GET /metrics"]
--- more_headers eval
["Authorization: Bearer $::Key", "Authorization: Bearer $::Key", ""]
--- error_code eval
[404, 500, 200]
--- response_body_like eval
['', '', main::lines(
'llm_requests_total{provider="none",model="unrouted",status="4xx"} 1',
'llm_errors_total{provider="none",model="unrouted",class="client"} 1',
'llm_requests_total{provider="bad",model="broken",status="5xx"} 1',
'llm_errors_total{provider="bad",model="broken",class="upstream"} 1',
'llm_upstream_attempts_total{provider="bad",model="broken"} 1',
'llm_tokens_total{provider="bad",model="broken",type="prompt"} 0')]
--- response_body_unlike eval
['\A\z', '\A\z', 'client-made-up']



=== TEST 3: auth and limit errors, before routing and admission
--- http_config eval
$::HttpConfig . '    llm_key key=sk-status-limited-CANARY-9f8e7d6c name=slow rpm=1;'
--- request eval
["POST /v1/chat/completions\n$::Chat", "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat", "POST /v1/chat/completions\n$::Chat",
 "GET /metrics"]
--- more_headers eval
["", "Authorization: Bearer sk-unknown-1234567890abcdef",
 "Authorization: Bearer sk-status-limited-CANARY-9f8e7d6c",
 "Authorization: Bearer sk-status-limited-CANARY-9f8e7d6c", ""]
--- error_code eval
[401, 401, 200, 429, 200]
--- response_body_like eval
['', '', '', '', main::lines(
'llm_requests_total{provider="none",model="unrouted",status="4xx"} 2',
'llm_errors_total{provider="none",model="unrouted",class="auth"} 2',
'llm_requests_total{provider="mock",model="gpt-4o",status="2xx"} 1',
'llm_requests_total{provider="mock",model="gpt-4o",status="4xx"} 1',
'llm_errors_total{provider="mock",model="gpt-4o",class="limit"} 1',
'llm_upstream_attempts_total{provider="mock",model="gpt-4o"} 1',
'llm_key_requests_total{key="slow"} 1',
'llm_key_responses_total{key="slow",status="2xx"} 1',
'llm_key_responses_total{key="slow",status="4xx"} 1')]



=== TEST 4: label values escaped: the route pattern ~^q"\d$
--- request eval
["POST /v1/chat/completions\n$::Esc", "GET /metrics", "GET /status.json"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['"usage"', main::lines(
'llm_requests_total{provider="mock",model="~^q\\"\\\\d$",status="2xx"} 1'),
qr/"series":\[\{"provider":"mock","model":"~\^q\\"\\\\d\$","in_flight":0,/]



=== TEST 5: JSON: the same data
--- request eval
["POST /v1/chat/completions\n$::Chat", "POST /v1/chat/completions\n$::Chat",
 "GET /status.json"]
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
['', '', 'Content-Type: application/json']
--- response_body_like eval
['"usage"', '"usage"', '\A\{"zone":"llm","series":\[\{"provider":"mock","model":"gpt-4o","in_flight":0,"requests":\{"1xx":0,"2xx":2,"3xx":0,"4xx":0,"5xx":0\},"tokens":\{"prompt":22,"completion":14,"cached":6\},"cost":0.0001875,"errors":\{"client":0,"upstream":0,"timeout":0,"auth":0,"limit":0,"internal":0\},"upstream_attempts":2,"upstream_retries":0,"fallbacks":0,"time_to_first_byte":\{"buckets":\{"0.1":2,"0.25":2,"0.5":2,"1":2,"2.5":2,"5":2,"10":2,"30":2,"60":2,"\+Inf":2\},"sum":0.\d\d\d,"count":2\},"time_to_first_token":\{"buckets":\{"0.1":0,"0.25":0,"0.5":0,"1":0,"2.5":0,"5":0,"10":0,"30":0,"60":0,"\+Inf":0\},"sum":0.000,"count":0\},"duration":\{"buckets":\{"0.1":2,[^}]*"\+Inf":2\},"sum":\d+.\d\d\d,"count":2\}\}\],"keys":\[\{"name":"app","requests":2,"responses":\{"1xx":0,"2xx":2,"3xx":0,"4xx":0,"5xx":0\},"tokens":\{"prompt":22,"completion":14\},"cost":0.0001875\}\],"teams":\[\{"name":"blue","requests":2,"responses":\{"1xx":0,"2xx":2,"3xx":0,"4xx":0,"5xx":0\},"tokens":\{"prompt":22,"completion":14\},"cost":0.0001875\}\],"zone_evicted":0,"zone_refused":0\}\n\z']
--- no_error_log
[error]



=== TEST 6: promtool check metrics accepts the output
--- skip_eval
1: !$::Promtool && "promtool not found (Debian package prometheus: make deps)"
--- request eval
["POST /v1/chat/completions\n$::Chat", "POST /v1/chat/completions\n$::Esc",
 "POST /v1/chat/completions\n$::Broken",
 "POST /v1/chat/completions\n$::Unknown", "GET /metrics"]
--- response_body_filters eval
sub {
    my $body = shift;
    return $body if $body !~ /^# HELP/;
    my $f = "$ENV{TEST_NGINX_SERVROOT}/metrics.txt";
    $f = "/tmp/llm-status-metrics.$$" if !$ENV{TEST_NGINX_SERVROOT};
    open my $fh, '>', $f or die $!;
    print $fh $body;
    close $fh;
    my $out = `$::Promtool check metrics < $f 2>&1`;
    unlink $f;
    return "promtool: " . ($? ? "failed\n$out" : "ok\n$out");
}
--- error_code eval
[200, 200, 500, 404, 200]
--- response_body_like eval
['"usage"', '"usage"', '', '', '\Apromtool: ok\n\z']



=== TEST 7: no llm_zone: said in both formats
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
--- more_headers
--- request eval
["GET /metrics", "GET /status.json"]
--- response_body eval
["# no llm_zone is configured: llm_status has nothing to count\n",
 "{\"zone\":null,\"error\":\"no llm_zone is configured: llm_status has nothing to count\"}\n"]
--- no_error_log
[error]



=== TEST 8: only GET and HEAD
--- request
POST /metrics
x
--- error_code: 405



=== TEST 9: llm_status: invalid format
--- config
    location = /metrics {
        llm_status xml;
    }
--- must_die
--- error_log
invalid parameter "xml"



=== TEST 10: llm_status with another content handler
--- config
    location = /metrics {
        llm_pass;
        llm_status;
    }
--- must_die
--- error_log
"llm_status" cannot be used in a location that has another content handler



=== TEST 11: llm_status twice
--- config
    location = /metrics {
        llm_status json;
        llm_status;
    }
--- must_die
--- error_log
"llm_status" directive is duplicate



=== TEST 12: llm_status in a location inside one with llm_pass
--- config
    location /v1/ {
        llm_pass;

        location = /v1/metrics {
            llm_status;
        }
    }
--- request
GET /v1/metrics
--- response_body_like: llm_zone_refused_total 0
--- no_error_log
[error]



=== TEST 13: fallbacks: the answer of the second target counts one
fallback in its series
--- http_config eval
$::HttpConfig . '    llm_route fb bad fallback=mock;'
--- request eval
["POST /v1/chat/completions\n" . ($::Chat =~ s/"gpt-4o"/"fb"/r),
 "GET /metrics"]
--- more_headers eval
["Authorization: Bearer $::Key", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
['"usage"', main::lines(
'llm_requests_total{provider="mock",model="fb",status="2xx"} 1',
'llm_fallbacks_total{provider="mock",model="fb"} 1')]
