# The OpenAI Responses surface (POST /v1/responses): Responses clients in
# front of OpenAI-format providers and of an Anthropic provider.  The
# request goes through the canonical request (the mocks show what they got
# in X-Request-Id), the answer comes back as a Response object or as the
# typed Responses events (exact sequences); errors in OpenAI's format.
#
# The mock providers are locations of the same server, one per canned
# answer (base=/text, /tools, ...).  Generated ids (resp_, msg_, fc_, rs_,
# call_) and created_at are normalized by a body filter.

use Test::Nginx::Socket 'no_plan';

sub norm_ids {
    my $s = shift;
    $s =~ s/"(resp|msg|fc|rs|call)_[0-9A-Za-z]{24}"/"$1_X"/g;
    $s =~ s/"created_at":\d+/"created_at":0/g;
    return $s;
}

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider text type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/text key=none;
    llm_provider tools type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/tools key=none;
    llm_provider stext type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/stext key=none;
    llm_provider stools type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/stools key=none;
    llm_provider serr type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/serr key=none;
    llm_provider e429 type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/e429 key=none;
    llm_provider anth type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT base=/anth key=none;
    llm_provider santh type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT base=/santh
                 key=none;
    llm_route text text:gpt-4o-mini;
    llm_route tools tools;
    llm_route stext stext;
    llm_route stools stools;
    llm_route serr serr;
    llm_route e429 e429;
    llm_route anth anth:claude-sonnet-4-5;
    llm_route santh santh:claude-sonnet-4-5;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
    }
    location = /text/chat/completions {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","reasoning_content":"think"},"finish_reason":"length"}],"usage":{"prompt_tokens":20,"completion_tokens":3,"total_tokens":23,"prompt_tokens_details":{"cached_tokens":16}}}';
    }
    location = /tools/chat/completions {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"chatcmpl-3","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Let me look.","tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"}},{"id":"call_b","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":30,"total_tokens":80}}';
    }
    location = /stext/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" \\"world\\""},"finish_reason":null}],"usage":null}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":4}}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
    location = /stools/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"On it."},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":"}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Paris\\"}"}}]},"finish_reason":null}]}';
        echo;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":70,"completion_tokens":25,"total_tokens":95}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
    location = /anth/messages {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo '{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"Let me think.","signature":"SIG=="},{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":30,"cache_read_input_tokens":10,"output_tokens":20}}';
    }
    location = /santh/messages {
        default_type text/event-stream;
        echo 'event: message_start';
        echo 'data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":30,"output_tokens":1}}}';
        echo;
        echo 'event: content_block_start';
        echo 'data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}';
        echo;
        echo 'event: content_block_delta';
        echo 'data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}}';
        echo;
        echo 'event: content_block_delta';
        echo 'data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"SIG=="}}';
        echo;
        echo 'event: content_block_stop';
        echo 'data: {"type":"content_block_stop","index":0}';
        echo;
        echo 'event: content_block_start';
        echo 'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}';
        echo;
        echo 'event: content_block_delta';
        echo 'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi"}}';
        echo;
        echo 'event: content_block_stop';
        echo 'data: {"type":"content_block_stop","index":1}';
        echo;
        echo 'event: message_delta';
        echo 'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}';
        echo;
        echo 'event: message_stop';
        echo 'data: {"type":"message_stop"}';
        echo;
    }
    location = /serr/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]}';
        echo;
        echo 'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
    location = /e429/chat/completions {
        default_type application/json;
        add_header Retry-After 7 always;
        return 429 '{"error":{"message":"Rate limit reached for gpt-4o-mini.","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
    }
    location /small/ {
        client_max_body_size 16;
        llm_pass;
    }
_EOC_
    }

    if (!defined $block->response_body_filters) {
        $block->set_value('response_body_filters', \&::norm_ids);
    }
});

run_tests();

__DATA__

=== TEST 1: string input, instructions, sampling, store, metadata, effort minimal; a length finish: an incomplete Response with a reasoning item
--- request
POST /v1/responses
{"model":"text","instructions":"Be brief.","input":"hi","temperature":0.2,"top_p":0.9,"max_output_tokens":9,"user":"u-1","store":true,"metadata":{"k":"v"},"reasoning":{"effort":"minimal"}}
--- error_code: 200
--- response_headers
X-Request-Id: {"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":9,"temperature":0.2,"top_p":0.9,"reasoning_effort":"low","user":"u-1"}
Content-Type: application/json
--- response_body eval
'{"id":"resp_X","object":"response","created_at":0,"status":"incomplete","background":false,"error":null,"incomplete_details":{"reason":"max_output_tokens"},"instructions":"Be brief.","max_output_tokens":9,"metadata":{"k":"v"},"model":"text","output":[{"id":"rs_X","type":"reasoning","summary":[{"type":"summary_text","text":"think"}]},{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello!","annotations":[],"logprobs":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":"minimal"},"store":true,"temperature":0.2,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":0.9,"truncation":"disabled","usage":{"input_tokens":20,"input_tokens_details":{"cached_tokens":16},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":23},"user":"u-1"}'
--- no_error_log
[alert]



=== TEST 2: items: developer, user parts with an image, reasoning, assistant text and function_call merged into one assistant turn, function_call_output a tool message; tools, named tool_choice, json_schema; tool calls answered as function_call items
--- request
POST /v1/responses
{"model":"tools","input":[{"role":"developer","content":"You help."},{"type":"message","role":"user","content":[{"type":"input_text","text":"Weather here?"},{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"auto"}]},{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"need tool"}],"encrypted_content":"SIG"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking.","annotations":[]}]},{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"type":"function_call_output","call_id":"call_1","output":"18C"}],"tools":[{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}],"tool_choice":{"type":"function","name":"get_weather"},"parallel_tool_calls":false,"text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}}}
--- error_code: 200
--- response_headers
X-Request-Id: {"model":"tools","messages":[{"role":"system","content":"You help."},{"role":"user","content":[{"type":"text","text":"Weather here?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},{"role":"assistant","content":"Checking.","reasoning_content":"need tool","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"18C"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false,"response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"},"strict":true}}}
Content-Type: application/json
--- response_body eval
'{"id":"resp_X","object":"response","created_at":0,"status":"completed","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"tools","output":[{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Let me look.","annotations":[],"logprobs":[]}]},{"id":"fc_X","type":"function_call","status":"completed","call_id":"call_a","name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"},{"id":"fc_X","type":"function_call","status":"completed","call_id":"call_b","name":"get_time","arguments":"{}"}],"parallel_tool_calls":false,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}},"tool_choice":{"type":"function","name":"get_weather"},"tools":[{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}],"top_p":null,"truncation":"disabled","usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":0},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":80},"user":null}'
--- no_error_log
[alert]



=== TEST 3: stream of text: created, in_progress, the message item and its part, deltas, the done events, completed with usage
--- request
POST /v1/responses
{"model":"stext","input":"hi","stream":true}
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
--- response_body eval
'event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_X","object":"response","created_at":0,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"stext","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":null,"user":null}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_X","object":"response","created_at":0,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"stext","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":null,"user":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_X","type":"message","status":"in_progress","role":"assistant","content":[]}}

event: response.content_part.added
data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_X","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_X","output_index":0,"content_index":0,"logprobs":[],"delta":"Hello"}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_X","output_index":0,"content_index":0,"logprobs":[],"delta":" \\"world\\""}

event: response.output_text.done
data: {"type":"response.output_text.done","sequence_number":6,"item_id":"msg_X","output_index":0,"content_index":0,"logprobs":[],"text":"Hello \\"world\\""}

event: response.content_part.done
data: {"type":"response.content_part.done","sequence_number":7,"item_id":"msg_X","output_index":0,"content_index":0,"part":{"type":"output_text","text":"Hello \\"world\\"","annotations":[],"logprobs":[]}}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":8,"output_index":0,"item":{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello \\"world\\"","annotations":[],"logprobs":[]}]}}

event: response.completed
data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_X","object":"response","created_at":0,"status":"completed","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"stext","output":[{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello \\"world\\"","annotations":[],"logprobs":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":4},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":14},"user":null}}

'
--- no_error_log
[alert]



=== TEST 4: stream of text then a tool call: the message closed, a function_call item with its argument deltas
--- request
POST /v1/responses
{"model":"stools","input":"hi","stream":true,"tool_choice":"required","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
--- response_body eval
'event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_X","object":"response","created_at":0,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"stools","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"required","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],"top_p":null,"truncation":"disabled","usage":null,"user":null}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_X","object":"response","created_at":0,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"stools","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"required","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],"top_p":null,"truncation":"disabled","usage":null,"user":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_X","type":"message","status":"in_progress","role":"assistant","content":[]}}

event: response.content_part.added
data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_X","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_X","output_index":0,"content_index":0,"logprobs":[],"delta":"On it."}

event: response.output_text.done
data: {"type":"response.output_text.done","sequence_number":5,"item_id":"msg_X","output_index":0,"content_index":0,"logprobs":[],"text":"On it."}

event: response.content_part.done
data: {"type":"response.content_part.done","sequence_number":6,"item_id":"msg_X","output_index":0,"content_index":0,"part":{"type":"output_text","text":"On it.","annotations":[],"logprobs":[]}}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"On it.","annotations":[],"logprobs":[]}]}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":8,"output_index":1,"item":{"id":"fc_X","type":"function_call","status":"in_progress","call_id":"call_1","name":"get_weather","arguments":""}}

event: response.function_call_arguments.delta
data: {"type":"response.function_call_arguments.delta","sequence_number":9,"item_id":"fc_X","output_index":1,"delta":"{\\"city\\":"}

event: response.function_call_arguments.delta
data: {"type":"response.function_call_arguments.delta","sequence_number":10,"item_id":"fc_X","output_index":1,"delta":"\\"Paris\\"}"}

event: response.function_call_arguments.done
data: {"type":"response.function_call_arguments.done","sequence_number":11,"item_id":"fc_X","output_index":1,"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":12,"output_index":1,"item":{"id":"fc_X","type":"function_call","status":"completed","call_id":"call_1","name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}

event: response.completed
data: {"type":"response.completed","sequence_number":13,"response":{"id":"resp_X","object":"response","created_at":0,"status":"completed","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"stools","output":[{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"On it.","annotations":[],"logprobs":[]}]},{"id":"fc_X","type":"function_call","status":"completed","call_id":"call_1","name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"required","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],"top_p":null,"truncation":"disabled","usage":{"input_tokens":70,"input_tokens_details":{"cached_tokens":0},"output_tokens":25,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":95},"user":null}}

'
--- no_error_log
[alert]



=== TEST 5: Anthropic provider: reasoning with encrypted_content is a signed thinking block, function_call_output a tool_result; thinking back as a reasoning item
--- request
POST /v1/responses
{"model":"anth","input":[{"role":"user","content":"w?"},{"type":"reasoning","summary":[{"type":"summary_text","text":"Let me think."}],"encrypted_content":"SIG=="},{"type":"function_call","call_id":"toolu_01","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"type":"function_call_output","call_id":"toolu_01","output":"18C"}],"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],"max_output_tokens":2000,"reasoning":{"effort":"low"}}
--- error_code: 200
--- response_headers
X-Request-Id: {"model":"claude-sonnet-4-5","max_tokens":2000,"messages":[{"role":"user","content":[{"type":"text","text":"w?"}]},{"role":"assistant","content":[{"type":"thinking","thinking":"Let me think.","signature":"SIG=="},{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"18C"}]}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"thinking":{"type":"enabled","budget_tokens":1024}}
Content-Type: application/json
--- response_body eval
'{"id":"resp_X","object":"response","created_at":0,"status":"completed","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":2000,"metadata":{},"model":"anth","output":[{"id":"rs_X","type":"reasoning","summary":[{"type":"summary_text","text":"Let me think."}],"encrypted_content":"SIG=="},{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Checking.","annotations":[],"logprobs":[]}]},{"id":"fc_X","type":"function_call","status":"completed","call_id":"toolu_01","name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":"low"},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],"top_p":null,"truncation":"disabled","usage":{"input_tokens":40,"input_tokens_details":{"cached_tokens":10},"output_tokens":20,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":60},"user":null}'
--- no_error_log
[alert]



=== TEST 6: Anthropic provider, stream: thinking as reasoning summary events, its signature as encrypted_content
--- request
POST /v1/responses
{"model":"santh","input":"hi","stream":true}
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
--- response_body eval
'event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_X","object":"response","created_at":0,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"santh","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":null,"user":null}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_X","object":"response","created_at":0,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"santh","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":null,"user":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"rs_X","type":"reasoning","summary":[]}}

event: response.reasoning_summary_part.added
data: {"type":"response.reasoning_summary_part.added","sequence_number":3,"item_id":"rs_X","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":""}}

event: response.reasoning_summary_text.delta
data: {"type":"response.reasoning_summary_text.delta","sequence_number":4,"item_id":"rs_X","output_index":0,"summary_index":0,"delta":"Hmm."}

event: response.reasoning_summary_text.done
data: {"type":"response.reasoning_summary_text.done","sequence_number":5,"item_id":"rs_X","output_index":0,"summary_index":0,"text":"Hmm."}

event: response.reasoning_summary_part.done
data: {"type":"response.reasoning_summary_part.done","sequence_number":6,"item_id":"rs_X","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":"Hmm."}}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":{"id":"rs_X","type":"reasoning","summary":[{"type":"summary_text","text":"Hmm."}],"encrypted_content":"SIG=="}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":8,"output_index":1,"item":{"id":"msg_X","type":"message","status":"in_progress","role":"assistant","content":[]}}

event: response.content_part.added
data: {"type":"response.content_part.added","sequence_number":9,"item_id":"msg_X","output_index":1,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":10,"item_id":"msg_X","output_index":1,"content_index":0,"logprobs":[],"delta":"Hi"}

event: response.output_text.done
data: {"type":"response.output_text.done","sequence_number":11,"item_id":"msg_X","output_index":1,"content_index":0,"logprobs":[],"text":"Hi"}

event: response.content_part.done
data: {"type":"response.content_part.done","sequence_number":12,"item_id":"msg_X","output_index":1,"content_index":0,"part":{"type":"output_text","text":"Hi","annotations":[],"logprobs":[]}}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":13,"output_index":1,"item":{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[],"logprobs":[]}]}}

event: response.completed
data: {"type":"response.completed","sequence_number":14,"response":{"id":"resp_X","object":"response","created_at":0,"status":"completed","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"santh","output":[{"id":"rs_X","type":"reasoning","summary":[{"type":"summary_text","text":"Hmm."}],"encrypted_content":"SIG=="},{"id":"msg_X","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[],"logprobs":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":0},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":37},"user":null}}

'
--- no_error_log
[alert]



=== TEST 7: error in the stream: an error event, then response.failed
--- request
POST /v1/responses
{"model":"serr","input":"hi","stream":true}
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
--- response_body eval
'event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_X","object":"response","created_at":0,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"serr","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":null,"user":null}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_X","object":"response","created_at":0,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"serr","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":null,"user":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_X","type":"message","status":"in_progress","role":"assistant","content":[]}}

event: response.content_part.added
data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_X","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_X","output_index":0,"content_index":0,"logprobs":[],"delta":"par"}

event: error
data: {"type":"error","sequence_number":5,"code":"server_error","message":"The server had an error while processing your request.","param":null}

event: response.failed
data: {"type":"response.failed","sequence_number":6,"response":{"id":"resp_X","object":"response","created_at":0,"status":"failed","background":false,"error":{"code":"server_error","message":"The server had an error while processing your request."},"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"serr","output":[{"id":"msg_X","type":"message","status":"in_progress","role":"assistant","content":[{"type":"output_text","text":"par","annotations":[],"logprobs":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":{"input_tokens":0,"input_tokens_details":{"cached_tokens":0},"output_tokens":0,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":0},"user":null}}

'
--- no_error_log
[alert]



=== TEST 8: previous_response_id: 400, the gateway keeps no state
--- request
POST /v1/responses
{"model":"text","input":"x","previous_response_id":"resp_1"}
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body eval
'{"error":{"message":"\'previous_response_id\' is not supported: this gateway keeps no conversation state (responses are not stored). Send the whole conversation in \'input\', including the previous output items.","type":"invalid_request_error","param":null,"code":"invalid_request"}}
'
--- no_error_log
[alert]



=== TEST 9: hosted tools: 400
--- request
POST /v1/responses
{"model":"text","input":"x","tools":[{"type":"web_search"}]}
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body eval
'{"error":{"message":"Invalid \'tools[0].type\': \\"web_search\\" tools are not supported by this gateway, only \\"function\\" tools (hosted tools run at OpenAI).","type":"invalid_request_error","param":null,"code":"invalid_request"}}
'
--- no_error_log
[alert]



=== TEST 10: no input: 400
--- request
POST /v1/responses
{"model":"text"}
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body eval
'{"error":{"message":"Missing required parameter: \'input\' (this gateway keeps no conversation state: the whole conversation is sent in \'input\').","type":"invalid_request_error","param":null,"code":"invalid_request"}}
'
--- no_error_log
[alert]



=== TEST 11: item references: 400
--- request
POST /v1/responses
{"model":"text","input":[{"type":"item_reference","id":"msg_1"}]}
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body eval
'{"error":{"message":"Invalid \'input[0]\': item references are not supported, this gateway keeps no conversation state. Send the items themselves.","type":"invalid_request_error","param":null,"code":"invalid_request"}}
'
--- no_error_log
[alert]



=== TEST 12: uploaded files: 400
--- request
POST /v1/responses
{"model":"text","input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body eval
'{"error":{"message":"Invalid \'input[0].content[0]\': only images by \'image_url\' (a URL or a data URL) can be sent; uploaded files (\'file_id\') belong to OpenAI.","type":"invalid_request_error","param":null,"code":"invalid_request"}}
'
--- no_error_log
[alert]



=== TEST 13: unknown model: 404 in OpenAI format
--- request
POST /v1/responses
{"model":"nope","input":"x"}
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body eval
'{"error":{"message":"The requested model does not exist or is not routed by this gateway.","type":"invalid_request_error","param":null,"code":"model_not_found"}}
'
--- no_error_log
[alert]



=== TEST 14: provider 429: OpenAI error, Retry-After passed on
--- request
POST /v1/responses
{"model":"e429","input":"x"}
--- error_code: 429
--- response_headers
Retry-After: 7
Content-Type: application/json
--- response_body eval
'{"error":{"message":"Rate limit reached for gpt-4o-mini.","type":"requests","param":null,"code":"rate_limit_exceeded"}}
'
--- no_error_log
[alert]



=== TEST 15: GET: 405
--- request
GET /v1/responses
--- error_code: 405
--- response_body
{"error":{"message":"Method not allowed for this endpoint.","type":"invalid_request_error","param":null,"code":"method_not_allowed"}}



=== TEST 16: body over client_max_body_size: 413 in OpenAI format
--- request
POST /small/v1/responses
{"model":"text","input":"xxxxxxxxxxxxxxxxxxxxxxxx"}
--- error_code: 413
--- response_body eval
'{"error":{"message":"The request body is larger than this gateway accepts.","type":"invalid_request_error","param":null,"code":"request_too_large"}}
'

