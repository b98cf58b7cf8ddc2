# POST /v1/messages/count_tokens (Anthropic): a Messages body without
# max_tokens, answered by the gateway with an estimate flagged
# "X-LLM-Token-Count: estimated": UTF-8 bytes of texts, tool calls and
# tools / 4 rounded up, + 3 per message and per tool, + 1000 per media part.

use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route claude-sonnet mock:gpt-4o-mini;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v1/ {
        llm_pass;
    }
    location /mock/ {
        return 500;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: an estimate, the provider never asked
--- request
POST /v1/messages/count_tokens
{"model":"claude-sonnet","system":"Be brief.","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
Content-Type: application/json
X-LLM-Token-Count: estimated
--- response_body
{"input_tokens":9}
--- no_error_log
[error]



=== TEST 2: tools, tool calls and an image count too
--- request
POST /v1/messages/count_tokens
{"model":"claude-sonnet","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":[{"type":"text","text":"Weather?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"18C"}]}]}
--- error_code: 200
--- response_body
{"input_tokens":1031}
--- no_error_log
[error]



=== TEST 3: errors in Anthropic's format: no messages, unknown model, GET
--- request eval
[ "POST /v1/messages/count_tokens\n{\"model\":\"claude-sonnet\"}",
  "POST /v1/messages/count_tokens\n{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
  "GET /v1/messages/count_tokens" ]
--- error_code eval
[400, 404, 405]
--- response_body_like eval
[ qr/^\{"type":"error","error":\{"type":"invalid_request_error","message":"[^"]+"\}\}$/,
  qr/^\{"type":"error","error":\{"type":"not_found_error","message":"[^"]+"\}\}$/,
  qr/^\{"type":"error","error":\{"type":"invalid_request_error","message":"[^"]+"\}\}$/ ]
--- no_error_log
[error]
