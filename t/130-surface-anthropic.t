# The Anthropic Messages surface: clients of POST /v1/messages in front of
# an OpenAI-format provider.  The request is translated into an OpenAI
# chat request (the mock shows what it got in X-Request-Id, a header the
# gateway passes on), the answer into an Anthropic Message or Anthropic
# SSE events, errors into {"type":"error","error":{"type","message"}}.
#
# Mock providers are locations of the same server (base=/mock).

use Test::Nginx::Socket 'no_plan';

our $Msg = '{"model":"claude-3-5-sonnet","max_tokens":256,"messages":[{"role":"user","content":"hi"}]}';
our $Stream = '{"model":"claude-3-5-sonnet","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"hi"}]}';

# an Anthropic stream's events, one line each, for the expected bodies
sub ev { "event: $_[0]\ndata: $_[1]\n\n" }

our $Start = ev('message_start', '{"type":"message_start","message":{"id":"chatcmpl-1","type":"message","role":"assistant","model":"claude-3-5-sonnet","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}');
our $Stop = ev('message_stop', '{"type":"message_stop"}');

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route claude-3-5-sonnet mock:gpt-4o-mini;
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
});

run_tests();

__DATA__

=== TEST 1: text: system first, max_tokens, upstream model; Anthropic Message back
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":3,"total_tokens":23,"prompt_tokens_details":{"cached_tokens":16}}}';
    }
--- request
POST /v1/messages
{"model":"claude-3-5-sonnet","max_tokens":256,"system":"Be brief.","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"stop_sequences":["END"],"metadata":{"user_id":"u-1"}}
--- more_headers
anthropic-version: 2023-06-01
--- error_code: 200
--- response_headers
Content-Type: application/json
X-Request-Id: {"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":256,"temperature":0.2,"stop":["END"],"user":"u-1"}
--- response_body chomp
{"id":"chatcmpl-1","type":"message","role":"assistant","model":"claude-3-5-sonnet","content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":16,"output_tokens":3}}
--- no_error_log
[error]



=== TEST 2: system blocks, tools, tool_use and tool_result, images
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"It is 18C."},"finish_reason":"stop"}],"usage":{"prompt_tokens":90,"completion_tokens":6,"total_tokens":96}}';
    }
--- request
POST /v1/messages
{"model":"gpt-4o","max_tokens":100,"system":[{"type":"text","text":"You help."},{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true},"messages":[{"role":"user","content":[{"type":"text","text":"Weather here?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":[{"type":"text","text":"18C"}]}]}]}
--- error_code: 200
--- response_headers
X-Request-Id: {"model":"gpt-4o","messages":[{"role":"system","content":"You help.\nBe brief."},{"role":"user","content":[{"type":"text","text":"Weather here?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},{"role":"assistant","content":"Checking.","tool_calls":[{"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"toolu_01","content":"18C"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":"auto","parallel_tool_calls":false,"max_tokens":100}
--- response_body chomp
{"id":"chatcmpl-2","type":"message","role":"assistant","model":"gpt-4o","content":[{"type":"text","text":"It is 18C."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":90,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":6}}
--- no_error_log
[error]



=== TEST 3: tool calls in the answer: tool_use blocks with parsed input
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo '{"id":"chatcmpl-3","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Let me look.","tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"}},{"id":"call_b","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":30,"total_tokens":80}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 200
--- response_body chomp
{"id":"chatcmpl-3","type":"message","role":"assistant","model":"claude-3-5-sonnet","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"call_a","name":"get_weather","input":{"city": "Paris"}},{"type":"tool_use","id":"call_b","name":"get_time","input":{}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":50,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":30}}
--- no_error_log
[error]



=== TEST 4: finish reasons: length is max_tokens, reasoning is a thinking block
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo '{"id":"chatcmpl-4","object":"chat.completion","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2 is 4"},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":256,"total_tokens":261}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 200
--- response_body chomp
{"id":"chatcmpl-4","type":"message","role":"assistant","model":"claude-3-5-sonnet","content":[{"type":"thinking","thinking":"2+2 is 4","signature":""},{"type":"text","text":"4"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":256}}
--- no_error_log
[error]



=== TEST 5: stream: the request asks for usage
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
"POST /v1/messages\n$::Stream"
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
X-Request-Id: {"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":256,"stream":true,"stream_options":{"include_usage":true}}
--- no_error_log
[error]



=== TEST 6: stream of text: message_start, one text block, message_delta with usage, message_stop
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}';
        echo;
        echo_flush;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" \\"world\\""},"finish_reason":null}],"usage":null}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}';
        echo;
        echo_flush;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":4}}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
"POST /v1/messages\n$::Stream"
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
Cache-Control: no-cache
--- response_body eval
$::Start
. ::ev('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" \"world\""}}')
. ::ev('content_block_stop', '{"type":"content_block_stop","index":0}')
. ::ev('message_delta', '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":8,"cache_creation_input_tokens":0,"cache_read_input_tokens":4,"output_tokens":2}}')
. $::Stop
--- no_error_log
[error]



=== TEST 7: stream of text then two tool calls, usage in the finish chunk
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"On it."},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":"}}]},"finish_reason":null}]}';
        echo;
        echo_flush;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Paris\\"}"}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":70,"completion_tokens":25,"total_tokens":95}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
"POST /v1/messages\n$::Stream"
--- error_code: 200
--- response_body eval
$::Start
. ::ev('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"On it."}}')
. ::ev('content_block_stop', '{"type":"content_block_stop","index":0}')
. ::ev('content_block_start', '{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_1","name":"get_weather","input":{}}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}')
. ::ev('content_block_stop', '{"type":"content_block_stop","index":1}')
. ::ev('content_block_start', '{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_2","name":"get_time","input":{}}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}')
. ::ev('content_block_stop', '{"type":"content_block_stop","index":2}')
. ::ev('message_delta', '{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":70,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":25}}')
. $::Stop
--- no_error_log
[error]



=== TEST 8: stream with reasoning: a thinking block first
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":"Two plus"},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":" two."},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"4","reasoning_content":null},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":9,"total_tokens":19}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
"POST /v1/messages\n$::Stream"
--- error_code: 200
--- response_body eval
$::Start
. ::ev('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Two plus"}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" two."}}')
. ::ev('content_block_stop', '{"type":"content_block_stop","index":0}')
. ::ev('content_block_start', '{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"4"}}')
. ::ev('content_block_stop', '{"type":"content_block_stop","index":1}')
. ::ev('message_delta', '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}')
. $::Stop
--- no_error_log
[error]



=== TEST 9: stream that ends without finish_reason nor [DONE]: closed with end_turn
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"cut"},"finish_reason":null}]}';
        echo;
    }
--- request eval
"POST /v1/messages\n$::Stream"
--- error_code: 200
--- response_body eval
$::Start
. ::ev('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"cut"}}')
. ::ev('content_block_stop', '{"type":"content_block_stop","index":0}')
. ::ev('message_delta', '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}')
. $::Stop
--- no_error_log
[error]



=== TEST 10: error in the stream: an Anthropic error event, then nothing
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]}';
        echo;
        echo 'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
"POST /v1/messages\n$::Stream"
--- error_code: 200
--- response_body eval
$::Start
. ::ev('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')
. ::ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"par"}}')
. ::ev('error', '{"type":"error","error":{"type":"api_error","message":"The server had an error while processing your request."}}')



=== TEST 11: max_tokens missing: 400 invalid_request_error
--- request
POST /v1/messages
{"model":"claude-3-5-sonnet","messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body
{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}
--- error_log
llm: client sent an invalid request: max_tokens: Field required
--- no_error_log
[error]



=== TEST 12: an invalid message: 400 naming it
--- request
POST /v1/messages
{"model":"claude-3-5-sonnet","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"system","content":"x"}]}
--- error_code: 400
--- response_body
{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.role: Input should be 'user' or 'assistant'"}}
--- no_error_log
[error]



=== TEST 13: malformed JSON: 400 in Anthropic's format
--- request
POST /v1/messages
{"model":"claude-3-5-sonnet","max_tokens":
--- error_code: 400
--- response_body
{"type":"error","error":{"type":"invalid_request_error","message":"We could not parse the JSON body of your request: it must be one JSON object."}}
--- no_error_log
[error]



=== TEST 14: no model: 400
--- request
POST /v1/messages
{"max_tokens":10,"messages":[]}
--- error_code: 400
--- response_body
{"type":"error","error":{"type":"invalid_request_error","message":"You must provide a model parameter (a string)."}}
--- no_error_log
[error]



=== TEST 15: unknown model: 404 not_found_error
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route claude-3-5-sonnet mock;
--- request
POST /v1/messages
{"model":"claude-opus-9","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body
{"type":"error","error":{"type":"not_found_error","message":"The requested model does not exist or is not routed by this gateway."}}
--- no_error_log
[error]



=== TEST 16: GET: 405
--- request
GET /v1/messages
--- error_code: 405
--- response_headers
Allow: POST
--- response_body
{"type":"error","error":{"type":"invalid_request_error","message":"Method not allowed for this endpoint."}}
--- no_error_log
[error]



=== TEST 17: body over client_max_body_size: 413 request_too_large
--- config
    location /v1/ {
        llm_pass;
        client_max_body_size 64;
    }
--- request eval
"POST /v1/messages\n" . '{"model":"claude-3-5-sonnet","max_tokens":10,"messages":[{"role":"user","content":"' . ('x' x 200) . '"}]}'
--- error_code: 413
--- response_body
{"type":"error","error":{"type":"request_too_large","message":"The request body is larger than this gateway accepts."}}



=== TEST 18: provider 429: rate_limit_error, Retry-After passed on
--- config
    location = /mock/chat/completions {
        default_type application/json;
        add_header Retry-After 7 always;
        return 429 '{"error":{"message":"Rate limit reached for gpt-4o-mini.","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 429
--- response_headers
Content-Type: application/json
Retry-After: 7
--- response_body
{"type":"error","error":{"type":"rate_limit_error","message":"Rate limit reached for gpt-4o-mini."}}
--- no_error_log
[error]



=== TEST 19: provider 429 to a stream request: JSON error, not a stream
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 429 '{"error":{"message":"Rate limit reached.","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
    }
--- request eval
"POST /v1/messages\n$::Stream"
--- error_code: 429
--- response_headers
Content-Type: application/json
!Cache-Control
--- response_body
{"type":"error","error":{"type":"rate_limit_error","message":"Rate limit reached."}}
--- no_error_log
[error]



=== TEST 20: provider 400: invalid_request_error with its message
--- config
    location = /mock/chat/completions {
        return 400 '{"error":{"message":"Invalid value for \'temperature\': must be at most 2.","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 400
--- response_body
{"type":"error","error":{"type":"invalid_request_error","message":"Invalid value for 'temperature': must be at most 2."}}
--- no_error_log
[error]



=== TEST 21: provider 404 (its model is unknown): not_found_error
--- config
    location = /mock/chat/completions {
        return 404 '{"error":{"message":"The model `gpt-4o-mini` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 404
--- response_body
{"type":"error","error":{"type":"not_found_error","message":"The model `gpt-4o-mini` does not exist or you do not have access to it."}}
--- no_error_log
[error]



=== TEST 22: provider 500: api_error
--- config
    location = /mock/chat/completions {
        return 500 '{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 500
--- response_body
{"type":"error","error":{"type":"api_error","message":"The server had an error while processing your request."}}
--- error_log
llm provider "mock" answered 500



=== TEST 23: provider 503: overloaded_error
--- config
    location = /mock/chat/completions {
        return 503 '{"error":{"message":"The engine is currently overloaded.","type":"server_error","code":"engine_overloaded"}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 503
--- response_body
{"type":"error","error":{"type":"overloaded_error","message":"The engine is currently overloaded."}}



=== TEST 24: provider 529: 503 overloaded_error
--- config
    location = /mock/chat/completions {
        return 529 '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 503
--- response_body
{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}



=== TEST 25: provider 401: the gateway's key is rejected: 502 api_error
--- config
    location = /mock/chat/completions {
        return 401 '{"error":{"message":"Incorrect API key provided: sk-SECRET.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 502
--- response_body
{"type":"error","error":{"type":"api_error","message":"The model provider rejected the gateway's credentials."}}
--- error_log
rejected the configured key (status 401)
--- no_error_log
sk-SECRET



=== TEST 26: provider unreachable: 502 api_error
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body
{"type":"error","error":{"type":"api_error","message":"The model provider could not be reached or sent an invalid response."}}
--- error_log
connect() failed (111: Connection refused) while connecting to upstream



=== TEST 27: provider too slow: 504 timeout_error
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 200ms;
    }
    location = /mock/chat/completions {
        echo_sleep 1;
        echo '{}';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 504
--- response_body
{"type":"error","error":{"type":"timeout_error","message":"The model provider did not answer in time."}}
--- error_log
upstream timed out
--- timeout: 3



=== TEST 28: invalid JSON from the provider: 502 api_error
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","choices":[';
    }
--- request eval
"POST /v1/messages\n$::Msg"
--- error_code: 502
--- response_body
{"type":"error","error":{"type":"api_error","message":"The model provider could not be reached or sent an invalid response."}}
--- error_log
upstream sent invalid JSON in a 200 response
