# The $llm_* variables, as an access log sees them: every block sends its
# requests to an llm_pass location that logs with a log_format of all of
# them (plain and escape=json), then reads the log back with GET /log or
# GET /log-json.  The line of interest is the last one of the file.

use Test::Nginx::Socket 'no_plan';

our $Chat = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
our $Stream = '{"model":"gpt-4o","stream":true,'
              . '"messages":[{"role":"user","content":"hi"}]}';

our $HttpConfig = <<'_EOC_';
    log_format llm 'model=$llm_model provider=$llm_provider '
                   'upstream_model=$llm_upstream_model route=$llm_route '
                   'prompt=$llm_prompt_tokens '
                   'completion=$llm_completion_tokens '
                   'total=$llm_total_tokens cached=$llm_cached_tokens '
                   'stream=$llm_stream upstream_status=$llm_upstream_status '
                   'usage=$llm_usage ttfb=$llm_ttfb status=$status';

    log_format llm_json escape=json
                   '{"model":"$llm_model","provider":"$llm_provider",'
                   '"upstream_model":"$llm_upstream_model",'
                   '"route":"$llm_route",'
                   '"prompt_tokens":"$llm_prompt_tokens",'
                   '"completion_tokens":"$llm_completion_tokens",'
                   '"total_tokens":"$llm_total_tokens",'
                   '"cached_tokens":"$llm_cached_tokens",'
                   '"stream":"$llm_stream",'
                   '"upstream_status":"$llm_upstream_status",'
                   '"usage":"$llm_usage","ttfb":"$llm_ttfb"}';

    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;

    llm_route gpt-4o mock:gpt-4o-2024-08-06;
    llm_route ~^local-(.+)$ mock:$1;
    llm_route text-embedding-3-small mock;
_EOC_

our $Config = <<'_EOC_';
    location /v1/ {
        llm_pass;
        access_log $TEST_NGINX_SERVER_ROOT/logs/llm.log llm;
        access_log $TEST_NGINX_SERVER_ROOT/logs/llm-json.log llm_json;
    }

    location = /log {
        access_log off;
        alias $TEST_NGINX_SERVER_ROOT/logs/llm.log;
    }

    location = /log-json {
        access_log off;
        alias $TEST_NGINX_SERVER_ROOT/logs/llm-json.log;
    }
_EOC_

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', $::HttpConfig);
    }

    $block->set_value('config', $::Config . ($block->config // ''));
});

run_tests();

__DATA__

=== TEST 1: non-stream: model, route, provider and usage of the response
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":3}}}';
    }
--- request eval
["POST /v1/chat/completions\n$::Chat", "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"usage":\{"prompt_tokens":11,',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=11 completion=7 total=18 cached=3 stream=0 upstream_status=200 usage=provider ttfb=\d+\.\d{3} status=200\n\z']
--- no_error_log
[error]



=== TEST 2: non-stream, escape=json log
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":3}}}';
    }
--- request eval
["POST /v1/chat/completions\n$::Chat", "GET /log-json"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"usage":\{"prompt_tokens":11,',
 '(?:^|\n)\{"model":"gpt-4o","provider":"mock","upstream_model":"gpt-4o-2024-08-06","route":"gpt-4o","prompt_tokens":"11","completion_tokens":"7","total_tokens":"18","cached_tokens":"3","stream":"0","upstream_status":"200","usage":"provider","ttfb":"\d+\.\d{3}"\}\n\z']
--- no_error_log
[error]



=== TEST 3: stream: usage from the final chunk, which the client did not ask for
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}';
        echo;
        echo_flush;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}';
        echo;
        echo_flush;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1}}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
["POST /v1/chat/completions\n$::Stream", "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['\A' . quotemeta('data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}

data: [DONE]

') . '\z',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=5 completion=2 total=7 cached=1 stream=1 upstream_status=200 usage=provider ttfb=\d+\.\d{3} status=200\n\z']
--- no_error_log
[error]



=== TEST 4: stream, escape=json log
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}';
        echo;
        echo_flush;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
["POST /v1/chat/completions\n$::Stream", "GET /log-json"]
--- error_code eval
[200, 200]
--- response_body_like eval
['data: \[DONE\]\n\n\z',
 '(?:^|\n)\{"model":"gpt-4o","provider":"mock","upstream_model":"gpt-4o-2024-08-06","route":"gpt-4o","prompt_tokens":"5","completion_tokens":"2","total_tokens":"7","cached_tokens":"0","stream":"1","upstream_status":"200","usage":"provider","ttfb":"\d+\.\d{3}"\}\n\z']
--- no_error_log
[error]



=== TEST 5: stream with include_usage asked by the client: the chunk is kept
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}';
        echo;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
['POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}',
 "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"choices":\[\],"usage":\{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7\}\}\n\ndata: \[DONE\]\n\n\z',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=5 completion=2 total=7 cached=0 stream=1 upstream_status=200 usage=provider ttfb=\d+\.\d{3} status=200\n\z']
--- no_error_log
[error]



=== TEST 6: stream without a usage chunk: usage=none, no token counts
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
["POST /v1/chat/completions\n$::Stream", "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['data: \[DONE\]\n\n\z',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=- completion=- total=- cached=- stream=1 upstream_status=200 usage=none ttfb=\d+\.\d{3} status=200\n\z']
--- no_error_log
[error]



=== TEST 7: stream with "usage":null in every chunk: the final one counts
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}';
        echo;
        echo_flush;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}';
        echo;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
["POST /v1/chat/completions\n$::Stream", "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"finish_reason":"stop"\}\],"usage":null\}\n\ndata: \[DONE\]\n\n\z',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=12 completion=4 total=16 cached=0 stream=1 upstream_status=200 usage=provider ttfb=\d+\.\d{3} status=200\n\z']
--- no_error_log
[error]



=== TEST 8: Mistral: usage in the last content chunk, which is kept
--- http_config eval
(my $c = $::HttpConfig) =~ s/type=openai/type=mistral/;
$c;
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","model":"mistral-small","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}';
        echo;
        echo_flush;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","model":"mistral-small","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":6,"total_tokens":9,"completion_tokens":3}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
["POST /v1/chat/completions\n$::Stream", "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":6,"total_tokens":9,"completion_tokens":3\}\}\n\ndata: \[DONE\]\n\n\z',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=6 completion=3 total=9 cached=0 stream=1 upstream_status=200 usage=provider ttfb=\d+\.\d{3} status=200\n\z']
--- no_error_log
[error]



=== TEST 9: a regex route: the pattern and the expanded model
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
    }
--- request eval
['POST /v1/chat/completions
{"model":"local-qwen2.5","messages":[{"role":"user","content":"hi"}]}',
 "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"total_tokens":2',
 '(?:^|\n)model=local-qwen2.5 provider=mock upstream_model=qwen2.5 route=~\^local-\(\.\+\)\$ prompt=1 completion=1 total=2 cached=0 stream=0 upstream_status=200 usage=provider ttfb=\d+\.\d{3} status=200\n\z']
--- no_error_log
[error]



=== TEST 10: embeddings: prompt and total tokens
--- config
    location = /mock/embeddings {
        default_type application/json;
        return 200 '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}';
    }
--- request eval
['POST /v1/embeddings
{"model":"text-embedding-3-small","input":"hello"}',
 "GET /log"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"embedding":\[0\.1,0\.2\]',
 '(?:^|\n)model=text-embedding-3-small provider=mock upstream_model=text-embedding-3-small route=text-embedding-3-small prompt=8 completion=0 total=8 cached=0 stream=0 upstream_status=200 usage=provider ttfb=\d+\.\d{3} status=200\n\z']
--- no_error_log
[error]



=== TEST 11: provider error: its status, no usage
--- config
    location = /mock/chat/completions {
        return 429 '{"error":{"message":"Rate limit reached.","type":"requests","code":"rate_limit_exceeded"}}';
    }
--- request eval
["POST /v1/chat/completions\n$::Chat", "GET /log"]
--- error_code eval
[429, 200]
--- response_body_like eval
['"code":"rate_limit_exceeded"',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=- completion=- total=- cached=- stream=0 upstream_status=429 usage=none ttfb=\d+\.\d{3} status=429\n\z']
--- no_error_log
[error]



=== TEST 12: provider 401: the provider's status, the client's 502
--- config
    location = /mock/chat/completions {
        return 401 '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}';
    }
--- request eval
["POST /v1/chat/completions\n$::Chat", "GET /log"]
--- error_code eval
[502, 200]
--- response_body_like eval
['"code":"upstream_auth_error"',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=- completion=- total=- cached=- stream=0 upstream_status=401 usage=none ttfb=\d+\.\d{3} status=502\n\z']



=== TEST 13: no route: the model is known, nothing else
--- request eval
['POST /v1/chat/completions
{"model":"gpt-nope","messages":[{"role":"user","content":"hi"}]}',
 "GET /log"]
--- error_code eval
[404, 200]
--- response_body_like eval
['"code":"model_not_found"',
 '(?:^|\n)model=gpt-nope provider=- upstream_model=- route=- prompt=- completion=- total=- cached=- stream=0 upstream_status=- usage=- ttfb=- status=404\n\z']
--- no_error_log
[error]



=== TEST 14: invalid JSON: no model, no stream
--- request eval
['POST /v1/chat/completions
{"model":', "GET /log"]
--- error_code eval
[400, 200]
--- response_body_like eval
['"code":"invalid_json"',
 '(?:^|\n)model=- provider=- upstream_model=- route=- prompt=- completion=- total=- cached=- stream=- upstream_status=- usage=- ttfb=- status=400\n\z']
--- no_error_log
[error]



=== TEST 15: provider unreachable: no upstream status, no usage
--- http_config eval
my $c = $::HttpConfig;
$c =~ s/upstream=127\.0\.0\.1:\$TEST_NGINX_SERVER_PORT/upstream=127.0.0.1:\$TEST_NGINX_RAND_PORT_1/;
$c;
--- request eval
["POST /v1/chat/completions\n$::Chat", "GET /log"]
--- error_code eval
[502, 200]
--- response_body_like eval
['"code":"upstream_error"',
 '(?:^|\n)model=gpt-4o provider=mock upstream_model=gpt-4o-2024-08-06 route=gpt-4o prompt=- completion=- total=- cached=- stream=0 upstream_status=- usage=- ttfb=- status=502\n\z']



=== TEST 16: a model name with a quote, logged escaped (plain and JSON)
--- http_config eval
$::HttpConfig . "    llm_route default mock;\n"
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
['POST /v1/chat/completions
{"model":"my\"model","messages":[{"role":"user","content":"hi"}]}',
 "GET /log", "GET /log-json"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['"chatcmpl-1"',
 '(?:^|\n)model=my\\\\x22model provider=mock upstream_model=my\\\\x22model route=default prompt=- completion=- total=- cached=- stream=0 upstream_status=200 usage=none ttfb=\d+\.\d{3} status=200\n\z',
 '(?:^|\n)\{"model":"my\\\\"model","provider":"mock","upstream_model":"my\\\\"model","route":"default","prompt_tokens":"","completion_tokens":"","total_tokens":"","cached_tokens":"","stream":"0","upstream_status":"200","usage":"none","ttfb":"\d+\.\d{3}"\}\n\z']
--- no_error_log
[error]



=== TEST 17: the variables outside llm_pass are not found
--- config
    location = /plain {
        return 200 "[$llm_model][$llm_provider][$llm_usage][$llm_ttfb][$llm_stream]\n";
    }
--- request
GET /plain
--- response_body
[][][][][]
--- no_error_log
[error]
