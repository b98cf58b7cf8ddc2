# The Gemini surface: clients of POST /v1beta/models/{model}:generateContent
# and :streamGenerateContent?alt=sse in front of an OpenAI-format provider
# and an Anthropic provider.  The request is translated (the mock shows what
# it got in X-Request-Id), the answer into a GenerateContentResponse or
# "data: {...}\r\n\r\n" events, errors into google.rpc.Status bodies.
#
# Mock providers are locations of the same server (base=/mock, /amock).

use Test::Nginx::Socket 'no_plan';

our $Gen = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}';

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_provider amock type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/amock key=none;
    llm_route gemini-2.5-flash mock:gpt-4o-mini;
    llm_route claude-sonnet amock:claude-sonnet-4-5;
_EOC_
    }

    if (!defined $block->config || $block->config !~ /\bllm_pass\b/) {
        $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1beta/ {
        llm_pass;
        llm_read_timeout 5s;
    }
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: text: systemInstruction, generationConfig; GenerateContentResponse back
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":3,"total_tokens":23,"prompt_tokens_details":{"cached_tokens":16}}}';
    }
--- request
POST /v1beta/models/gemini-2.5-flash:generateContent
{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"systemInstruction":{"role":"user","parts":[{"text":"Be brief."}]},"generationConfig":{"maxOutputTokens":256,"temperature":0.2,"topP":0.9,"stopSequences":["END"],"candidateCount":1}}
--- more_headers
x-goog-api-key: anything
--- error_code: 200
--- response_headers
Content-Type: application/json
X-Request-Id: {"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":256,"temperature":0.2,"top_p":0.9,"n":1,"stop":["END"]}
--- response_body chomp
{"candidates":[{"content":{"parts":[{"text":"Hello!"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":3,"totalTokenCount":23,"cachedContentTokenCount":16},"modelVersion":"gemini-2.5-flash","responseId":"chatcmpl-1"}
--- no_error_log
[error]



=== TEST 2: function calls and responses: ids made up and paired by name and order; tools, toolConfig, parameters types lower-cased
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"It is 18C."},"finish_reason":"stop"}],"usage":{"prompt_tokens":90,"completion_tokens":6,"total_tokens":96}}';
    }
--- request
POST /v1beta/models/gemini-2.5-flash:generateContent
{"contents":[{"role":"user","parts":[{"text":"Weather?"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2ln"},{"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"18C"}}},{"functionResponse":{"name":"get_weather","response":{"temp":20}}}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather now","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}},"required":["city"]}}]},{"googleSearch":{}}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}}
--- error_code: 200
--- response_headers
X-Request-Id: {"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"Weather?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},{"role":"tool","tool_call_id":"call_0","content":"18C"},{"role":"tool","tool_call_id":"call_1","content":"{\"temp\":20}"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}}}
--- response_body chomp
{"candidates":[{"content":{"parts":[{"text":"It is 18C."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":90,"candidatesTokenCount":6,"totalTokenCount":96},"modelVersion":"gemini-2.5-flash","responseId":"chatcmpl-2"}
--- no_error_log
[error]



=== TEST 3: tool calls in the answer: functionCall parts with args objects, finishReason STOP
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo '{"id":"chatcmpl-3","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Let me look.","tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"}},{"id":"call_b","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":30,"total_tokens":80}}';
    }
--- request eval
"POST /v1beta/models/gemini-2.5-flash:generateContent\n$::Gen"
--- error_code: 200
--- response_body chomp
{"candidates":[{"content":{"parts":[{"text":"Let me look."},{"functionCall":{"id":"call_a","name":"get_weather","args":{"city": "Paris"}}},{"functionCall":{"id":"call_b","name":"get_time","args":{}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":50,"candidatesTokenCount":30,"totalTokenCount":80},"modelVersion":"gemini-2.5-flash","responseId":"chatcmpl-3"}
--- no_error_log
[error]



=== TEST 4: finish reasons: length is MAX_TOKENS, reasoning a thought part; thinkingConfig and JSON schema
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"chatcmpl-4","object":"chat.completion","created":1,"model":"o3","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2 is 4"},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":256,"total_tokens":300}}';
    }
--- request
POST /v1beta/models/gemini-2.5-flash:generateContent
{"contents":[{"parts":[{"text":"2+2?"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"n":{"type":"INTEGER"}}},"thinkingConfig":{"thinkingBudget":2048,"includeThoughts":true}}}
--- error_code: 200
--- response_headers
X-Request-Id: {"model":"gpt-4o-mini","messages":[{"role":"user","content":"2+2?"}],"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}},"reasoning_effort":"medium"}
--- response_body chomp
{"candidates":[{"content":{"parts":[{"text":"2+2 is 4","thought":true},{"text":"4"}],"role":"model"},"finishReason":"MAX_TOKENS","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":256,"totalTokenCount":300,"thoughtsTokenCount":39},"modelVersion":"gemini-2.5-flash","responseId":"chatcmpl-4"}
--- no_error_log
[error]



=== TEST 5: stream: text deltas, each one event; the last with finishReason and usage; "\r\n\r\n"
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo 'data: {"id":"chatcmpl-5","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-5","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-5","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-5","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}';
        echo;
        echo 'data: {"id":"chatcmpl-5","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
"POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse\n$::Gen"
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
X-Request-Id: {"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}
--- response_body eval
"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"chatcmpl-5\"}\r\n\r\n"
. "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"chatcmpl-5\"}\r\n\r\n"
. "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":2,\"totalTokenCount\":11},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"chatcmpl-5\"}\r\n\r\n"
--- no_error_log
[error]



=== TEST 6: stream: tool call arguments in pieces, sent whole in the last event
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-6","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_x","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-6","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":"}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-6","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Paris\\"}"}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-6","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":30,"completion_tokens":10,"total_tokens":40}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
"POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse\n$::Gen"
--- error_code: 200
--- response_body eval
"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"id\":\"call_x\",\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":30,\"candidatesTokenCount\":10,\"totalTokenCount\":40},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"chatcmpl-6\"}\r\n\r\n"
--- no_error_log
[error]



=== TEST 7: provider errors as google.rpc.Status: 429 is RESOURCE_EXHAUSTED
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 429 '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
    }
--- request eval
"POST /v1beta/models/gemini-2.5-flash:generateContent\n$::Gen"
--- error_code: 429
--- response_body_like
^\{"error":\{"code":429,"message":"[^"]*","status":"RESOURCE_EXHAUSTED"\}\}$
--- no_error_log
[error]



=== TEST 8: the gateway's own errors: unknown model NOT_FOUND, bad body INVALID_ARGUMENT, GET 405
--- request eval
[ "POST /v1beta/models/nope:generateContent\n$::Gen",
  "POST /v1beta/models/gemini-2.5-flash:generateContent\n{\"contents\":[]}",
  "POST /v1beta/models/gemini-2.5-flash:generateContent\n{\"contents\":",
  "GET /v1beta/models/gemini-2.5-flash:generateContent" ]
--- error_code eval
[404, 400, 400, 405]
--- response_body_like eval
[ qr/^\{"error":\{"code":404,"message":"[^"]+","status":"NOT_FOUND"\}\}$/,
  qr/^\{"error":\{"code":400,"message":"\* GenerateContentRequest.contents: contents is not specified","status":"INVALID_ARGUMENT"\}\}$/,
  qr/^\{"error":\{"code":400,"message":"[^"]+","status":"INVALID_ARGUMENT"\}\}$/,
  qr/^\{"error":\{"code":405,"message":"[^"]+","status":"INVALID_ARGUMENT"\}\}$/ ]
--- no_error_log
[error]



=== TEST 9: an Anthropic provider: Gemini request as a Messages request, the Message back
--- config
    location = /amock/messages {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"Hmm.","signature":"sig1"},{"type":"text","text":"Calling."},{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{"city":"Oslo"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":7}}';
    }
--- request
POST /v1/models/claude-sonnet:generateContent
{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}}}}]}],"generationConfig":{"maxOutputTokens":100}}
--- error_code: 200
--- response_headers
X-Request-Id: {"model":"claude-sonnet-4-5","max_tokens":100,"system":[{"type":"text","text":"Be brief."}],"messages":[{"role":"user","content":[{"type":"text","text":"Weather in Oslo?"}]}],"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}
--- response_body chomp
{"candidates":[{"content":{"parts":[{"text":"Hmm.","thought":true,"thoughtSignature":"sig1"},{"text":"Calling."},{"functionCall":{"id":"toolu_9","name":"get_weather","args":{"city":"Oslo"}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":7,"totalTokenCount":19},"modelVersion":"claude-sonnet","responseId":"msg_01"}
--- no_error_log
[error]



=== TEST 10: an Anthropic provider, streamed: thought and text deltas, the tool call whole at the end
--- config
    location = /amock/messages {
        default_type text/event-stream;
        echo 'event: message_start';
        echo 'data: {"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":15,"output_tokens":1}}}';
        echo;
        echo 'event: content_block_start';
        echo 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}';
        echo;
        echo 'event: content_block_delta';
        echo 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Sure."}}';
        echo;
        echo 'event: content_block_stop';
        echo 'data: {"type":"content_block_stop","index":0}';
        echo;
        echo 'event: content_block_start';
        echo 'data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_7","name":"get_time","input":{}}}';
        echo;
        echo 'event: content_block_delta';
        echo 'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"tz\\":"}}';
        echo;
        echo 'event: content_block_delta';
        echo 'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\\"UTC\\"}"}}';
        echo;
        echo 'event: content_block_stop';
        echo 'data: {"type":"content_block_stop","index":1}';
        echo;
        echo 'event: message_delta';
        echo 'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}}';
        echo;
        echo 'event: message_stop';
        echo 'data: {"type":"message_stop"}';
        echo;
    }
--- request
POST /v1beta/models/claude-sonnet:streamGenerateContent?alt=sse
{"contents":[{"role":"user","parts":[{"text":"Time?"}]}],"generationConfig":{"maxOutputTokens":50}}
--- error_code: 200
--- response_body eval
"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Sure.\"}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"claude-sonnet\",\"responseId\":\"msg_02\"}\r\n\r\n"
. "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"id\":\"toolu_7\",\"name\":\"get_time\",\"args\":{\"tz\":\"UTC\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":15,\"candidatesTokenCount\":20,\"totalTokenCount\":35},\"modelVersion\":\"claude-sonnet\",\"responseId\":\"msg_02\"}\r\n\r\n"
--- no_error_log
[error]



=== TEST 11: a stream that fails after its header: one last error event
--- config
    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-7","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}';
        echo;
        echo 'data: {"error":{"message":"overloaded","type":"server_error","code":null}}';
        echo;
    }
--- request eval
"POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse\n$::Gen"
--- error_code: 200
--- response_body_like
^data: \{"candidates":\[\{"content":\{"parts":\[\{"text":"Hi"\}\],"role":"model"\},"index":0\}\],"modelVersion":"gemini-2.5-flash","responseId":"chatcmpl-7"\}\r\n\r\ndata: \{"error":\{"code":5\d\d,"message":"[^"]*","status":"INTERNAL"\}\}\r\n\r
