# Cross-provider fallback (llm_route ... fallback=provider[:model]):
# the primary fails before anything reached the client (429, 500, 503,
# 529, connection refused, read timeout), the next target answers, the
# body whole and alone; across provider types (an OpenAI client, an
# Anthropic fallback); streams before the first byte; no fallback on a
# 400 or after the first byte of a stream; llm_next_upstream_tries caps
# the attempts; llm_cooldown skips a failing target, then probes it.
#
# The mocks are locations of the test server: each provider has its own
# upstream{} (keepalive) and base path.

use Test::Nginx::Socket 'no_plan';

our $Chat = '{"model":"smart","messages":[{"role":"user","content":"hi"}]}';
our $Stream = '{"model":"smart","stream":true,'
              . '"messages":[{"role":"user","content":"hi"}]}';

our $Good = '{"id":"chatcmpl-good","object":"chat.completion",'
    . '"model":"gpt-4o-mini","choices":[{"index":0,"message":'
    . '{"role":"assistant","content":"from the fallback"},'
    . '"finish_reason":"stop"}],'
    . '"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}';

our $Providers = <<'_EOC_';
    upstream a_up { server 127.0.0.1:$TEST_NGINX_SERVER_PORT; keepalive 4; }
    upstream b_up { server 127.0.0.1:$TEST_NGINX_SERVER_PORT; keepalive 4; }
    upstream c_up { server 127.0.0.1:$TEST_NGINX_SERVER_PORT; keepalive 4; }
    upstream dead { server 127.0.0.1:1; }

    llm_provider bad    type=openai upstream=a_up host=localhost base=/bad
                        key=none;
    llm_provider good   type=openai upstream=b_up host=localhost base=/good
                        key=none;
    llm_provider claude type=anthropic upstream=c_up host=localhost
                        base=/ant key=none;
    llm_provider goods  type=openai upstream=b_up host=localhost base=/goods
                        key=none;
    llm_provider down   type=openai upstream=dead host=localhost key=none;
_EOC_

our $Mocks = <<'_EOC_';
    location /v1/ {
        llm_pass;
        llm_read_timeout 300ms;
        add_header X-Fb "$llm_attempts|$llm_fallback_reason" always;
    }

    location = /good/chat/completions {
        default_type application/json;
        add_header X-Request-Id "good-$connection_requests";
        return 200 '$GOOD';
    }

    location = /goods/chat/completions {
        default_type text/event-stream;
        return 200 'data: {"id":"c-good","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"streamed"}}]}\n\ndata: [DONE]\n\n';
    }

    location = /ant/messages {
        default_type application/json;
        return 200 '{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"from claude"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":3}}';
    }
_EOC_

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    my $http = $block->http_config // '';
    $block->set_value('http_config', $::Providers . $http);

    my $conf = $block->config // '';
    (my $mocks = $::Mocks) =~ s/\$GOOD/$::Good/;
    $block->set_value('config', $mocks . $conf);

    $block->set_value('no_error_log', "[alert]\n[emerg]")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: 503 from the primary: the fallback answers, whole
--- http_config
    llm_route smart bad:gpt-4o fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 503 '{"error":{"message":"overloaded","type":"server_error"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-LLM-Model: gpt-4o-mini
X-LLM-Attempts: 2
X-Fb: 2|503 from bad
--- response_body eval
$::Good



=== TEST 2: 529 (Anthropic's overloaded) from the primary
--- http_config
    llm_route smart bad:gpt-4o fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 529 '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-Fb: 2|529 from bad
--- response_body eval
$::Good



=== TEST 3: 429 and 500, then the second fallback answers
--- http_config
    upstream a2_up { server 127.0.0.1:$TEST_NGINX_SERVER_PORT; }
    llm_provider bad2 type=openai upstream=a2_up host=localhost base=/bad2
                      key=none;
    llm_route smart bad:gpt-4o fallback=bad2 fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 429 '{"error":{"message":"slow down","type":"rate_limit"}}';
    }
    location = /bad2/chat/completions {
        default_type application/json;
        return 500 '{"error":{"message":"oops","type":"server_error"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-LLM-Attempts: 3
X-Fb: 3|429 from bad; 500 from bad2
--- response_body eval
$::Good



=== TEST 4: connection refused: the fallback answers
--- http_config
    llm_route smart down:gpt-4o fallback=good:gpt-4o-mini;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-Fb: 2|error from down
--- response_body eval
$::Good
--- error_log
connect() failed (111: Connection refused)



=== TEST 5: read timeout (llm_read_timeout 300ms): the fallback answers
--- http_config
    llm_route smart bad:gpt-4o fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        echo_sleep 1;
        echo late;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-Fb: 2|timeout from bad
--- response_body eval
$::Good
--- error_log
upstream timed out



=== TEST 6: across provider types: OpenAI client, Anthropic fallback
--- http_config
    llm_route smart bad:gpt-4o fallback=claude:claude-x;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 503 '{"error":{"message":"overloaded","type":"server_error"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
X-LLM-Provider: claude
X-LLM-Model: claude-x
X-Fb: 2|503 from bad
--- response_body_like: \A\{"id":"msg_1","object":"chat\.completion",.*"content":"from claude".*"finish_reason":"stop".*\}\z



=== TEST 7: a stream: 503 before the first byte, the fallback streams
--- http_config
    llm_route smart bad:gpt-4o fallback=goods:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 503 '{"error":{"message":"overloaded","type":"server_error"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Stream"
--- error_code: 200
--- response_headers
X-LLM-Provider: goods
X-Fb: 2|503 from bad
--- response_body_like: \Adata: \{"id":"c-good".*"streamed".*\n\ndata: \[DONE\]\n\n\z



=== TEST 8: 400 from the primary: no fallback
--- http_config
    llm_route smart bad:gpt-4o fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 400 '{"error":{"message":"bad messages","type":"invalid_request_error"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 400
--- response_headers
X-LLM-Provider: bad
X-LLM-Attempts: 1
X-Fb: 1|
--- response_body_like: bad messages



=== TEST 9: context window exceeded (400): the fallback answers
--- http_config
    llm_route smart bad:gpt-4o fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 400 '{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-Fb: 2|400 from bad
--- response_body eval
$::Good



=== TEST 10: llm_next_upstream_tries 2: the second failure is the answer
--- http_config
    upstream a2_up { server 127.0.0.1:$TEST_NGINX_SERVER_PORT; }
    llm_provider bad2 type=openai upstream=a2_up host=localhost base=/bad2
                      key=none;
    llm_route smart bad:gpt-4o fallback=bad2 fallback=good:gpt-4o-mini;
--- config
    llm_next_upstream_tries 2;
    location = /bad/chat/completions {
        default_type application/json;
        return 503 '{"error":{"message":"overloaded","type":"server_error"}}';
    }
    location = /bad2/chat/completions {
        default_type application/json;
        return 502 '{"error":{"message":"bad gateway two","type":"server_error"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_headers
X-LLM-Provider: bad2
X-LLM-Attempts: 2
X-Fb: 2|503 from bad
--- response_body_like: bad gateway two



=== TEST 11: a stream fails after its first byte: no fallback, an error event
--- http_config
    upstream raw { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    llm_provider rawp type=openai upstream=raw host=localhost key=none;
    llm_route smart rawp:gpt-4o fallback=good:gpt-4o-mini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
. "Transfer-Encoding: chunked\r\n\r\n"
. sprintf("%x\r\n%s\r\n", length($::A = 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}' . "\n\n"), $::A)
--- request eval
"POST /v1/chat/completions\n$::Stream"
--- error_code: 200
--- response_headers
X-LLM-Provider: rawp
X-LLM-Attempts: 1
--- response_body_like: \Adata: \{"id":"c1".*"Hel".*\n\ndata: \{"error":\{"message":"The model provider's stream failed before it was complete\.".*\n\n\z



=== TEST 12: cooldown: 2 failures open it, skipped, probed after the period
--- http_config
    llm_zone llm:1m;
    llm_cooldown failures=2 window=10s period=1s;
    llm_route smart bad:gpt-4o fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 503 '{"error":{"message":"overloaded","type":"server_error"}}';
    }
    location = /sleep { echo_sleep 1.2; echo slept; }
    location = /fb { return 200 "$arg_x\n"; }
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "GET /sleep",
 "POST /v1/chat/completions\n$::Chat"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body eval
[$::Good, $::Good, $::Good, "slept\n", $::Good]



=== TEST 13: keepalive: each provider's pool is reused across fallbacks
--- http_config
    llm_route smart bad:gpt-4o fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 503 '{"error":{"message":"overloaded","type":"server_error"}}';
    }
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- error_code eval
[200, 200]
--- response_body eval
[$::Good, $::Good]



=== TEST 14: llm_route grammar: a weighted target after a fallback is an error
--- http_config
    llm_route smart bad:gpt-4o fallback=good good:x;
--- config
--- request
GET /
--- must_die
--- no_error_log
[alert]
--- error_log
target "good:x" after a fallback in llm_route "smart"



=== TEST 15: the failed primary's connection goes back to its pool too
(3 requests with a fallback: 1 client connection, 1 to each provider)
--- http_config
    llm_route smart bad:gpt-4o fallback=good:gpt-4o-mini;
--- config
    location = /bad/chat/completions {
        default_type application/json;
        return 503 '{"error":{"message":"overloaded","type":"server_error"}}';
    }
    location = /ss { stub_status; }
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "GET /ss"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
["from the fallback", "from the fallback", "from the fallback",
 "server accepts handled requests\n 3 3 10 \n"]



=== TEST 16: Anthropic's spend cap (400 "credit balance is too low"): not
retried on the same provider, the next provider answers
--- http_config
    llm_provider broke type=anthropic upstream=c_up host=localhost
                       base=/broke key=none;
    llm_route smart broke:claude-x fallback=broke:claude-y
                    fallback=good:gpt-4o-mini;
--- config
    location = /broke/messages {
        default_type application/json;
        return 400 '{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
X-LLM-Provider: good
X-LLM-Attempts: 2
X-Fb: 2|400 from broke
--- response_body_like: \A\{"id":"chatcmpl-good".*"content":"from the fallback".*\}\z
