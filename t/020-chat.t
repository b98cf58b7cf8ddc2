# Chat completions through the passthrough fast path: the byte-exact
# request a provider receives (tcp_listen/tcp_query), the "model" rewrite,
# the stream_options.include_usage injection and the removal of the
# usage-only chunk, streams split anywhere in time (echo_flush/echo_sleep),
# weighted routes, the default route and the X-LLM-* headers.

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too

$ENV{LLM_TEST_KEY} = 'sk-test-CANARY-4f2a9c';

our $Chat = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';

our $Completion = '{"id":"chatcmpl-1","object":"chat.completion",'
    . '"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":'
    . '{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],'
    . '"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}';

# the events of a stream, as the provider sends them after "data: "
our @Events = (
    '{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    . '"delta":{"role":"assistant","content":"Hel"}}]}',
    '{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    . '"delta":{"content":"lo"},"finish_reason":"stop"}]}',
);

our $UsageChunk = '{"id":"c1","object":"chat.completion.chunk",'
    . '"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,'
    . '"total_tokens":7}}';

# the request the provider gets: request line, headers in the module's
# order, then the body
sub upreq {
    my ($body, %o) = @_;

    my $r = 'POST ' . ($o{path} // '/v1/chat/completions') . " HTTP/1.1\r\n"
            . 'Host: ' . ($o{host} // '127.0.0.1') . "\r\n"
            . "Content-Type: application/json\r\n"
            . 'Content-Length: ' . length($body) . "\r\n"
            . 'Accept: ' . ($o{stream} ? 'text/event-stream'
                                       : 'application/json') . "\r\n"
            . "Accept-Encoding: identity\r\n";

    $r .= "Authorization: Bearer $o{key}\r\n" if defined $o{key};
    $r .= $o{extra} // '';

    return "$r\r\n$body";
}

# a provider's JSON answer with a Content-Length
sub reply {
    my ($body, $headers) = @_;

    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . ($headers // '') . "Connection: close\r\n\r\n$body";
}

# chunked framing of the given pieces
sub chunked {
    return join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @_)
           . "0\r\n\r\n";
}

# a provider's event stream, chunked, one chunk per event
sub sse_reply {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
           . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           . chunked(map { "data: $_\n\n" } @_);
}

sub sse {
    return join '', map { "data: $_\n\n" } @_;
}

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
_EOC_
    }

    if (!defined $block->config || $block->config !~ /\bllm_pass\b/) {
        $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
    }
_EOC_
    }

    if (defined $block->tcp_listen && !defined $block->tcp_query
        && !defined $block->tcp_query_len)
    {
        # read the whole request before answering
        $block->set_value('tcp_query_auto_timeout', '0.05');
    }
});

run_tests();

__DATA__

=== TEST 1: non-stream: the exact request; client headers are not
forwarded, no Authorization with key=none
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval: ::upreq($::Chat)
--- tcp_reply eval: ::reply($::Completion)
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers
Authorization: Bearer client-secret
Cookie: session=abc
X-Custom: 1
User-Agent: OpenAI/Python 1.50.0
--- response_headers
Content-Type: application/json
X-LLM-Provider: mock
X-LLM-Model: gpt-4o
!Transfer-Encoding
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 2: key=env: Authorization: Bearer, then the header= lines; the
key is never logged
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=api.example.com base=/openai/v1 key=env:LLM_TEST_KEY
                 header=OpenAI-Organization:org-42
                 "header=X-Title: my app";
    llm_route gpt-4o mock;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq($::Chat, path => '/openai/v1/chat/completions',
        host => 'api.example.com', key => 'sk-test-CANARY-4f2a9c',
        extra => "OpenAI-Organization: org-42\r\nX-Title: my app\r\n")
--- tcp_reply eval: ::reply($::Completion)
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers
Authorization: Bearer client-secret
--- response_body eval: $::Completion
--- no_error_log
[error]
sk-test-CANARY-4f2a9c



=== TEST 3: alias: "model" rewritten, Content-Length follows
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route smart mock:gpt-4.1-2025-04-14;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"messages":[{"role":"user","content":"hi"}],'
        . '"model":"gpt-4.1-2025-04-14","temperature":0.2}')
--- tcp_reply eval: ::reply($::Completion)
--- request eval
"POST /v1/chat/completions\n"
. '{"messages":[{"role":"user","content":"hi"}],"model":"smart",'
. '"temperature":0.2}'
--- response_headers
X-LLM-Provider: mock
X-LLM-Model: gpt-4.1-2025-04-14
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 4: regex route: the model is built from captures
--- http_config
    llm_provider mock type=vllm upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    llm_route ~^local/([^/]+)/(.+)$ mock:$2@$1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"llama-3.1-8b@meta","messages":[]}')
--- tcp_reply eval: ::reply($::Completion)
--- request eval
"POST /v1/chat/completions\n" . '{"model":"local/meta/llama-3.1-8b","messages":[]}'
--- response_headers
X-LLM-Model: llama-3.1-8b@meta
--- no_error_log
[error]



=== TEST 5: passthrough names keep the client's bytes, escapes included
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route gpt-4o mock;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq("{ \"model\" : \"gpt\\u002d4o\" ,\n  \"messages\":[] }")
--- tcp_reply eval: ::reply($::Completion)
--- request eval
"POST /v1/chat/completions\n{ \"model\" : \"gpt\\u002d4o\" ,\n  \"messages\":[] }"
--- response_headers
X-LLM-Model: gpt-4o
--- no_error_log
[error]



=== TEST 6: a captured model is JSON-escaped again in the request
(control characters in a model are refused: t/510-abuse.t)
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route ~^ft/(.+)$ mock:ft:$1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"ft:a\"b\\\\cé","messages":[]}')
--- tcp_reply eval: ::reply($::Completion)
--- request eval
"POST /v1/chat/completions\n" . '{"model":"ft/a\"b\\\\c\u00e9","messages":[]}'
--- no_error_log
[error]



=== TEST 7: stream: Accept: text/event-stream, stream_options injected
first in the body when the client sent none; the usage-only chunk is
removed again
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"stream_options":{"include_usage":true},"model":"gpt-4o",'
        . '"stream":true,"messages":[]}', stream => 1)
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_headers
Content-Type: text/event-stream
Cache-Control: no-cache
X-LLM-Provider: mock
X-LLM-Model: gpt-4o
!Content-Length
--- raw_response_headers_like: Transfer-Encoding: chunked\r\n
--- response_body eval: ::sse(@::Events, '[DONE]')
--- no_error_log
[error]



=== TEST 8: stream: injection after "{" with blanks, and an alias edit
later in the same body
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route fast mock:gpt-4o-mini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq(qq({"stream_options":{"include_usage":true},\n  "stream": true,\n)
        . qq(  "model": "gpt-4o-mini",\n  "messages": []\n}), stream => 1)
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. qq({\n  "stream": true,\n  "model": "fast",\n  "messages": []\n})
--- response_body eval: ::sse(@::Events, '[DONE]')
--- no_error_log
[error]



=== TEST 9: stream: empty stream_options {} gets include_usage
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","stream":true,'
        . '"stream_options":{"include_usage":true},"messages":[]}',
        stream => 1)
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"stream_options":{},"messages":[]}'
--- response_body eval: ::sse(@::Events, '[DONE]')
--- no_error_log
[error]



=== TEST 10: stream: empty stream_options with blanks, { }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","stream":true,'
        . '"stream_options":{"include_usage":true },"messages":[]}',
        stream => 1)
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"stream_options":{ },"messages":[]}'
--- response_body eval: ::sse(@::Events, '[DONE]')
--- no_error_log
[error]



=== TEST 11: stream: stream_options without include_usage gets it first
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","stream":true,"stream_options":'
        . '{"include_usage":true, "continuous_usage_stats":false},'
        . '"messages":[]}', stream => 1)
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"stream_options":'
. '{ "continuous_usage_stats":false},"messages":[]}'
--- response_body eval: ::sse(@::Events, '[DONE]')
--- no_error_log
[error]



=== TEST 12: stream: include_usage false is turned true, the usage chunk
removed
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","stream":true,'
        . '"stream_options":{"include_usage":true},"messages":[]}',
        stream => 1)
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,'
. '"stream_options":{"include_usage":false},"messages":[]}'
--- response_body eval: ::sse(@::Events, '[DONE]')
--- no_error_log
[error]



=== TEST 13: stream: include_usage true is the client's: body unchanged,
the usage chunk kept
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","stream":true,'
        . '"stream_options":{"include_usage":true},"messages":[]}',
        stream => 1)
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,'
. '"stream_options":{"include_usage":true},"messages":[]}'
--- response_body eval: ::sse(@::Events, $::UsageChunk, '[DONE]')
--- no_error_log
[error]



=== TEST 14: not a stream: stream_options are left alone
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","stream":false,'
        . '"stream_options":{"include_usage":false},"messages":[]}')
--- tcp_reply eval: ::reply($::Completion)
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":false,'
. '"stream_options":{"include_usage":false},"messages":[]}'
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 15: mistral: nothing injected, usage on the last chunk kept
--- http_config
    llm_provider mistral type=mistral key=none
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    llm_route default mistral;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"mistral-small-latest","stream":true,"messages":[]}',
        stream => 1, host => '127.0.0.1')
--- tcp_reply eval
::sse_reply($::Events[0],
            '{"id":"m1","object":"chat.completion.chunk","choices":[{"index":0,'
            . '"delta":{"content":"lo"},"finish_reason":"stop"}],'
            . '"usage":{"prompt_tokens":5,"completion_tokens":2,'
            . '"total_tokens":7}}', '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"mistral-small-latest","stream":true,"messages":[]}'
--- response_body eval
::sse($::Events[0],
      '{"id":"m1","object":"chat.completion.chunk","choices":[{"index":0,'
      . '"delta":{"content":"lo"},"finish_reason":"stop"}],'
      . '"usage":{"prompt_tokens":5,"completion_tokens":2,'
      . '"total_tokens":7}}', '[DONE]')
--- no_error_log
[error]



=== TEST 16: mistral: a usage-only chunk is not ours to remove
--- http_config
    llm_provider mistral type=mistral key=none
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    llm_route default mistral;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"mistral-small-latest","stream":true,"messages":[]}'
--- response_body eval: ::sse(@::Events, $::UsageChunk, '[DONE]')
--- no_error_log
[error]



=== TEST 17: upstream Content-Length response: sent with a Content-Length;
only the allowed upstream headers pass
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply($::Completion, "X-Request-Id: req-123\r\nSet-Cookie: a=b\r\n"
                       . "X-Internal: 1\r\nServer: provider/1.0\r\n"
                       . "openai-processing-ms: 42\r\n")
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers eval
"Content-Length: " . length($::Completion) . "\n"
. "X-Request-Id: req-123\nopenai-processing-ms: 42\n!Set-Cookie\n!X-Internal"
--- raw_response_headers_unlike: provider/1\.0
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 18: upstream chunked response, chunks split across packets:
decoded, sent with a Content-Length
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
my $c = ::chunked(substr($::Completion, 0, 10), substr($::Completion, 10, 100),
                  substr($::Completion, 110));
["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
 "Transfer-Encoding: chunked\r\n\r\n" . substr($c, 0, 7),
 substr($c, 7, 50), substr($c, 57)]
--- tcp_reply_delay: 10ms
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers eval
"Content-Length: " . length($::Completion) . "\n!Transfer-Encoding"
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 19: upstream stream with a Content-Length: passed, ends at its
length though the provider keeps the connection
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval
my $b = ::sse(@::Events, '[DONE]');
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
. "Content-Length: " . length($b) . "\r\n\r\n$b"
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_headers
!Content-Length
--- response_body eval: ::sse(@::Events, '[DONE]')
--- timeout: 3
--- no_error_log
[error]



=== TEST 20: stream split in time: one event per flush
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route default mock;
--- config
    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'data: {"choices":[{"delta":{"content":"a"}}]}\n\n';
        echo_flush;
        echo_sleep 0.02;
        echo -n 'data: {"choices":[{"delta":{"content":"b"}}]}\n\n';
        echo_flush;
        echo_sleep 0.02;
        echo -n 'data: [DONE]\n\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_headers
Content-Type: text/event-stream
--- response_body eval
::sse('{"choices":[{"delta":{"content":"a"}}]}',
      '{"choices":[{"delta":{"content":"b"}}]}', '[DONE]')
--- no_error_log
[error]



=== TEST 21: events split mid-line, inside "data:", inside the JSON and
between the two line ends
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route default mock;
--- config
    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'da';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'ta: {"choices":[{"delta":{"con';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'tent":"a"}}]}\n';
        echo_flush;
        echo_sleep 0.01;
        echo -n '\ndata: {"choices":[{"delta":{"content":"b"}}]}\n\nd';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'ata: [DONE]\n';
        echo_flush;
        echo_sleep 0.01;
        echo -n '\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_body eval
::sse('{"choices":[{"delta":{"content":"a"}}]}',
      '{"choices":[{"delta":{"content":"b"}}]}', '[DONE]')
--- no_error_log
[error]



=== TEST 22: CRLF delimiters, the CR and the LF in different reads; the
client gets LF
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route default mock;
--- config
    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'data: {"choices":[{"delta":{"content":"a"}}]}\r\n\r';
        echo_flush;
        echo_sleep 0.01;
        echo -n '\ndata: {"choices":[{"delta":{"content":"b"}}]}\r';
        echo_flush;
        echo_sleep 0.01;
        echo -n '\n\r\ndata: [DONE]\r\n\r\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_body eval
::sse('{"choices":[{"delta":{"content":"a"}}]}',
      '{"choices":[{"delta":{"content":"b"}}]}', '[DONE]')
--- no_error_log
[error]



=== TEST 23: LF and lone CR delimiters, "data:" without a space
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route default mock;
--- config
    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'data:{"choices":[{"delta":{"content":"a"}}]}\r\r';
        echo -n 'data:  {"choices":[{"delta":{"content":"b"}}]}\n\n';
        echo -n 'data: [DONE]\n\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_body eval
::sse('{"choices":[{"delta":{"content":"a"}}]}',
      ' {"choices":[{"delta":{"content":"b"}}]}', '[DONE]')
--- no_error_log
[error]



=== TEST 24: ": keep-alive" comments, "event:", "id:" and "retry:" lines
and empty data events are not part of the OpenAI stream: dropped
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route default mock;
--- config
    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n ': keep-alive\n\n';
        echo_flush;
        echo_sleep 0.01;
        echo -n ': OPENROUTER PROCESSING\n\n';
        echo -n 'retry: 3000\n\n';
        echo -n 'event: completion\nid: 1\n';
        echo -n 'data: {"choices":[{"delta":{"content":"a"}}]}\n\n';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'data:\n\n: keep-alive\n';
        echo -n 'data: {"choices":[{"delta":{"content":"b"}}]}\n\n';
        echo -n 'data: [DONE]\n\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_body eval
::sse('{"choices":[{"delta":{"content":"a"}}]}',
      '{"choices":[{"delta":{"content":"b"}}]}', '[DONE]')
--- no_error_log
[error]



=== TEST 25: a data field over several lines stays one event for the
client
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route default mock;
--- config
    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'data: {"choices":[{"delta":\ndata: {"content":"a"}}]}\n\n';
        echo -n 'data: [DONE]\n\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_body eval
"data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"a\"}}]}\n\n"
. "data: [DONE]\n\n"
--- no_error_log
[error]



=== TEST 26: the usage-only chunk split across reads is still removed; a
usage on a content chunk is kept
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route default mock;
--- config
    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n';
        echo -n 'data: {"choices":[{"delta":{},"finish_reason":"stop"}],';
        echo -n '"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n';
        echo -n 'data: {"id":"x","choices":[],"usage":{"prompt_';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n';
        echo -n 'data: [DONE]\n\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_body eval
::sse('{"choices":[{"delta":{"content":"a"}}],"usage":null}',
      '{"choices":[{"delta":{},"finish_reason":"stop"}],'
      . '"usage":{"prompt_tokens":1,"completion_tokens":1}}',
      '[DONE]')
--- no_error_log
[error]



=== TEST 27: weighted route 3:1 over 200 requests
--- http_config
    llm_provider a type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/a key=none;
    llm_provider b type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/b key=none;
    llm_route gpt-4o a weight=3 b;
--- config
    location = /a/chat/completions {
        echo_read_request_body;
        echo -n '{"p":"a"}';
    }

    location = /b/chat/completions {
        echo_read_request_body;
        echo -n '{"p":"b"}';
    }

    location = /t {
        echo_foreach_split ',' $arg_n;
            echo_subrequest POST /v1/chat/completions
                -b '{"model":"gpt-4o","messages":[]}';
        echo_end;
    }
--- request eval
"GET /t?n=" . ("x," x 199) . "x"
--- response_body_filters eval
sub {
    my $a = () = $_[0] =~ /\{"p":"a"\}/g;
    my $b = () = $_[0] =~ /\{"p":"b"\}/g;

    # 150 expected; 120..180 is more than 4.5 standard deviations
    return ($a + $b == 200 && $a >= 120 && $a <= 180)
           ? "spread ok\n" : "a=$a b=$b\n";
}
--- response_body
spread ok
--- no_error_log
[error]



=== TEST 28: weights 1:1:2 over three targets, one provider with aliases
--- http_config
    llm_provider a type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/a key=none;
    llm_route gpt-4o a:x a:y weight=1 a:z weight=2;
--- config
    location = /a/chat/completions {
        echo_read_request_body;
        echo_request_body;
    }

    location = /t {
        echo_foreach_split ',' $arg_n;
            echo_subrequest POST /v1/chat/completions
                -b '{"model":"gpt-4o","messages":[]}';
        echo_end;
    }
--- request eval
"GET /t?n=" . ("x," x 199) . "x"
--- response_body_filters eval
sub {
    my %n;
    $n{$1}++ while $_[0] =~ /"model":"(\w)"/g;
    my ($x, $y, $z) = map { $n{$_} // 0 } qw(x y z);

    # expected 50, 50, 100
    return ($x + $y + $z == 200 && $x >= 25 && $x <= 75 && $y >= 25
            && $y <= 75 && $z >= 70 && $z <= 130)
           ? "spread ok\n" : "x=$x y=$y z=$z\n";
}
--- response_body
spread ok
--- no_error_log
[error]



=== TEST 29: the default route, with an alias, in X-LLM-* headers
--- http_config
    llm_provider exact type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_provider fallback type=openai
                 upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o exact;
    llm_route default fallback:llama-3.1-8b;
--- config
    location /mock/ {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n"
 . '{"model":"claude-3-5-sonnet","messages":[]}']
--- response_headers eval
["X-LLM-Provider: exact\nX-LLM-Model: gpt-4o",
 "X-LLM-Provider: fallback\nX-LLM-Model: llama-3.1-8b"]
--- response_body eval
[$::Chat, '{"model":"llama-3.1-8b","messages":[]}']
--- no_error_log
[error]



=== TEST 30: a request body in a temporary file is forwarded intact
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route big mock:gpt-4o;
--- config
    location /v1/ {
        llm_pass;
        client_body_buffer_size 1k;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","messages":[{"role":"user","content":"'
        . ('0123456789' x 400) . '"}]}')
--- tcp_reply eval: ::reply($::Completion)
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"big","messages":[{"role":"user","content":"'
. ('0123456789' x 400) . '"}]}'
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 31: a second "model" key is refused: the provider would read the
last one, which was not routed
--- http_config
    llm_provider cheap type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o-mini cheap;
--- config
    location /mock/ {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o-mini","messages":[],"model":"o1-pro"}'
--- error_code: 400
--- response_body
{"error":{"message":"The JSON body has more than one \"model\".","type":"invalid_request_error","param":null,"code":"invalid_json"}}
--- error_log
llm: client sent "model" more than once
--- no_error_log
[error]



=== TEST 32: a "model" key spelled with escapes is a second "model" key
--- http_config
    llm_provider cheap type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o-mini cheap;
--- config
    location /mock/ {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o-mini","messages":[],"mod\u0065l":"o1-pro"}'
--- error_code: 400
--- response_body_like: "code":"invalid_json"
--- no_error_log
[error]



=== TEST 33: "model" inside another object is not the model
--- http_config
    llm_provider cheap type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o-mini cheap;
--- config
    location /mock/ {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi",'
. '"model":"x"}],"metadata":{"model":"y"}}'
--- response_body eval
'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi",'
. '"model":"x"}],"metadata":{"model":"y"}}'
--- no_error_log
[error]



=== TEST 34: stream: "stream_options": null is replaced, not doubled
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o","stream":true,'
        . '"stream_options":{"include_usage":true},"messages":[]}',
        stream => 1)
--- tcp_reply eval: ::sse_reply(@::Events, $::UsageChunk, '[DONE]')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"stream_options":null,"messages":[]}'
--- response_body eval: ::sse(@::Events, '[DONE]')
--- no_error_log
[error]



=== TEST 35: regex route: a capture that did not take part is empty
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route ~^gpt-4o(-mini)?$ mock:gpt-4o$1-2024-07-18;
--- config
    location /mock/ {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"model":"gpt-4o-mini","messages":[]}',
 "POST /v1/chat/completions\n" . '{"model":"gpt-4o","messages":[]}']
--- response_headers eval
["X-LLM-Model: gpt-4o-mini-2024-07-18", "X-LLM-Model: gpt-4o-2024-07-18"]
--- response_body eval
['{"model":"gpt-4o-mini-2024-07-18","messages":[]}',
 '{"model":"gpt-4o-2024-07-18","messages":[]}']
--- no_error_log
[error]



=== TEST 36: pipelined on one client connection: a stream, a completion,
the model list
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_provider sse type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route streamed sse;
    llm_route gpt-4o mock;
--- config
    location /mock/ {
        echo_read_request_body;
        echo_request_body;
    }

    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'data: {"choices":[{"delta":{"content":"a"}}]}\n\n';
        echo_flush;
        echo_sleep 0.01;
        echo -n 'data: [DONE]\n\n';
    }
--- pipelined_requests eval
["POST /v1/chat/completions\n"
 . '{"model":"streamed","stream":true,"messages":[]}',
 "POST /v1/chat/completions\n$::Chat",
 "GET /v1/models"]
--- response_body eval
[::sse('{"choices":[{"delta":{"content":"a"}}]}', '[DONE]'),
 $::Chat,
 qq({"object":"list","data":[{"id":"streamed","object":"model",)
 . qq("created":T,"owned_by":"sse"},{"id":"gpt-4o","object":"model",)
 . qq("created":T,"owned_by":"mock"}]}\n)]
--- response_body_filters eval
sub { my $b = shift; $b =~ s/"created":\d+/"created":T/g; $b }
--- no_error_log
[error]
