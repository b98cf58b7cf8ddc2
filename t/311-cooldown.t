# llm_cooldown beyond fallbacks: a route of weighted targets and no
# fallback= passes over a target whose breaker is open while another is
# not; the period over, one request probes it; the breakers in llm_status
# (JSON and Prometheus, "promtool check metrics" when installed).
#
# "bad:gpt-4o" is opened through a route of its own ("only"), so that
# which weighted target comes first is not left to chance: "w" weighs
# bad 1000 to good's 1, and is served by good while bad cools down.

use Test::Nginx::Socket 'no_plan';
use t::LLMFault;

t::LLMFault::start();

our $Promtool = `sh -c 'command -v promtool' 2>/dev/null`;
chomp $Promtool;

sub chat { "POST /v1/chat/completions\n"
           . qq({"model":"$_[0]","messages":[{"role":"user","content":"hi"}]}) }

our $Good = $t::LLMFault::Good;

no_shuffle();
repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llm_zone llm:256k;
    llm_provider bad type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/s503;
    llm_provider good type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/good;
    llm_provider flap type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/flap;
    llm_route only bad:gpt-4o;
    llm_route w bad:gpt-4o weight=1000 good:gpt-4o-mini weight=1;
    llm_route f flap:gpt-4o;
    llm_route wf flap:gpt-4o weight=1000 good:gpt-4o-mini weight=1;
    llm_route wfb flap:gpt-4o weight=1000 good:gpt-4o-mini weight=1
                  fallback=good:gpt-4o-mini;
_EOC_

    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1/ {
        llm_pass;
        add_header X-P "$llm_provider" always;
    }
    location = /status.json { llm_status json; }
    location = /metrics { llm_status; }
    location = /sleep { echo_sleep 0.7; echo slept; }
_EOC_

    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]")
        unless defined $block->no_error_log;
});

env_to_nginx('TEST_NGINX_FAULT_PORT');

run_tests();

__DATA__

=== TEST 1: a weighted route without fallback passes over a cooling target
--- http_config
    llm_cooldown failures=1 window=10s period=10s;
--- pipelined_requests eval
[::chat('only'), ::chat('w'), ::chat('w'), ::chat('w'), ::chat('w'),
 "GET /status.json"]
--- error_code eval
[503, 200, 200, 200, 200, 200]
--- response_body_like eval
['fault 503', "\\A\Q$::Good\E\\z", "\\A\Q$::Good\E\\z", "\\A\Q$::Good\E\\z",
 "\\A\Q$::Good\E\\z",
 '"cooldown":\[\{"target":"bad:gpt-4o","state":"open","open_ms":\d+,"failures":0,"failures_total":1,"opened":1,"probes":0\}\]\}\n\z']



=== TEST 2: failures=2: one failure does not open it; window counts
--- http_config
    llm_cooldown failures=2 window=10s period=10s;
--- pipelined_requests eval
[::chat('only'), "GET /status.json", ::chat('only'), ::chat('w'),
 "GET /status.json"]
--- error_code eval
[503, 200, 503, 200, 200]
--- response_body_like eval
['fault 503',
 '"cooldown":\[\{"target":"bad:gpt-4o","state":"closed","open_ms":0,"failures":1,"failures_total":1,"opened":0,"probes":0\}\]',
 'fault 503', "\\A\Q$::Good\E\\z",
 '"cooldown":\[\{"target":"bad:gpt-4o","state":"open","open_ms":\d+,"failures":0,"failures_total":2,"opened":1,"probes":0\}\]']



=== TEST 3: the period over, one request probes; it fails: open again
--- http_config
    llm_cooldown failures=1 window=10s period=500ms;
--- pipelined_requests eval
[::chat('only'), "GET /sleep", "GET /status.json", ::chat('w'),
 ::chat('w'), "GET /status.json"]
--- error_code eval
[503, 200, 200, 503, 200, 200]
--- response_body_like eval
['fault 503', 'slept',
 '"state":"half_open","open_ms":0,"failures":0,"failures_total":1,"opened":1,"probes":0',
 'fault 503', "\\A\Q$::Good\E\\z",
 '"state":"open","open_ms":\d+,"failures":0,"failures_total":2,"opened":2,"probes":1']



=== TEST 4: the probe answers: the breaker closes, the weights rule again
--- http_config
    llm_cooldown failures=1 window=10s period=500ms;
--- init
unlink "$t::LLMFault::Dir/flap";
--- pipelined_requests eval
[::chat('f'), ::chat('wf'), "GET /sleep", ::chat('wf'), ::chat('wf'),
 "GET /status.json"]
--- error_code eval
[503, 200, 200, 200, 200, 200]
--- response_headers eval
["X-P: flap", "X-P: good", "", "X-P: flap", "X-P: flap", ""]
--- response_body_like eval
['flap', "\\A\Q$::Good\E\\z", 'slept', "\\A\Q$::Good\E\\z",
 "\\A\Q$::Good\E\\z",
 '"cooldown":\[\{"target":"flap:gpt-4o","state":"closed","open_ms":0,"failures":0,"failures_total":1,"opened":1,"probes":1\}\]']



=== TEST 5: Prometheus: one series per target and metric
--- http_config
    llm_cooldown failures=1 window=10s period=10s;
--- pipelined_requests eval
[::chat('only'), ::chat('w'), "GET /metrics"]
--- error_code eval
[503, 200, 200]
--- response_body_like eval
['fault 503', 'from the fallback',
 '# HELP llm_target_cooldown_open [^\n]+\n# TYPE llm_target_cooldown_open gauge\nllm_target_cooldown_open\{target="bad:gpt-4o"\} 1\n# HELP llm_target_failures_total [^\n]+\n# TYPE llm_target_failures_total counter\nllm_target_failures_total\{target="bad:gpt-4o"\} 1\n# HELP llm_target_cooldowns_total [^\n]+\n# TYPE llm_target_cooldowns_total counter\nllm_target_cooldowns_total\{target="bad:gpt-4o"\} 1\n# HELP llm_target_probes_total [^\n]+\n# TYPE llm_target_probes_total counter\nllm_target_probes_total\{target="bad:gpt-4o"\} 0\n\z']



=== TEST 6: promtool check metrics accepts the output with breakers
--- skip_eval
1: !$::Promtool && "promtool not found (Debian package prometheus: make deps)"
--- http_config
    llm_cooldown failures=1 window=10s period=10s;
--- pipelined_requests eval
[::chat('only'), ::chat('w'), "GET /metrics"]
--- response_body_filters eval
sub {
    my $body = shift;
    return $body if $body !~ /^# HELP/;
    my $f = $ENV{TEST_NGINX_SERVROOT} ? "$ENV{TEST_NGINX_SERVROOT}/metrics.txt"
                                      : "/tmp/llm-cooldown-metrics.$$";
    open my $fh, '>', $f or die $!;
    print $fh $body;
    close $fh;
    my $out = `$::Promtool check metrics < $f 2>&1`;
    unlink $f;
    return "promtool: " . ($? ? "failed\n$out" : "ok\n$out");
}
--- error_code eval
[503, 200, 200]
--- response_body_like eval
['fault 503', 'from the fallback', '\Apromtool: ok\n\z']



=== TEST 7: llm_cooldown, no failure yet: an empty list
--- http_config
    llm_cooldown failures=1 window=10s period=10s;
--- request
GET /status.json
--- error_code: 200
--- response_body_like: "zone_refused":0,"cooldown":\[\]\}\n\z



=== TEST 8: without llm_cooldown: nothing of breakers, nothing skipped
--- pipelined_requests eval
[::chat('only'), ::chat('w'), "GET /status.json", "GET /metrics"]
--- error_code eval
[503, 503, 200, 200]
--- response_body_like eval
['fault 503', 'fault 503', '"zone_refused":0\}\n\z',
 '(?s)\A(?!.*llm_target_)']



=== TEST 9: weights and fallbacks: the probe after the period is the
weighted choice itself, not passed over
--- http_config
    llm_cooldown failures=1 window=10s period=500ms;
--- init
unlink "$t::LLMFault::Dir/flap";
--- pipelined_requests eval
[::chat('f'), ::chat('wfb'), "GET /sleep", ::chat('wfb'), "GET /status.json"]
--- error_code eval
[503, 200, 200, 200, 200]
--- response_headers eval
["X-P: flap", "X-P: good", "", "X-P: flap", ""]
--- response_body_like eval
['flap', "\\A\Q$::Good\E\\z", 'slept', "\\A\Q$::Good\E\\z",
 '"cooldown":\[\{"target":"flap:gpt-4o","state":"closed","open_ms":0,"failures":0,"failures_total":1,"opened":1,"probes":1\}\]']



=== TEST 10: the JSON with breakers is valid JSON (JSON::PP)
--- http_config
    llm_cooldown failures=1 window=10s period=10s;
--- pipelined_requests eval
[::chat('only'), ::chat('f'), "GET /status.json"]
--- response_body_filters eval
sub {
    my $body = shift;
    return $body if $body !~ /^\{"zone"/;
    require JSON::PP;
    my $j = eval { JSON::PP->new->decode($body) };
    return "invalid JSON: $@" if !$j;
    return CORE::join(',', map { "$_->{target}=$_->{state}" }
                     sort { $a->{target} cmp $b->{target} }
                     @{ $j->{cooldown} }) . "\n";
}
--- error_code eval
[503, 503, 200]
--- response_body_like eval
['fault 503', 'flap', '\Abad:gpt-4o=open,flap:gpt-4o=open\n\z']
--- init
unlink "$t::LLMFault::Dir/flap";
