# Token counting answered by the provider when it has an endpoint:
# POST /v1/messages/count_tokens (Anthropic clients) and Gemini's
# POST /v1beta/models/{model}:countTokens (@google/genai's countTokens)
# reach Anthropic's /v1/messages/count_tokens and Gemini's :countTokens
# (a whole generateContentRequest); the requests are checked byte-exact
# (tcp_listen/tcp_query).  Other providers keep the flagged estimate.

use Test::Nginx::Socket 'no_plan';

$ENV{ANT_TEST_KEY} = 'sk-ant-test-c0un7';
$ENV{GEMINI_TEST_KEY} = 'AIzaSy-test-c0un7';
$ENV{BEDROCK_TEST_KEY} =
    'AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

sub upreq {
    my ($path, $body, @headers) = @_;

    return "POST $path HTTP/1.1\r\n"
           . "Host: 127.0.0.1\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Accept: application/json\r\n"
           . "Accept-Encoding: identity\r\n"
           . join('', map { "$_\r\n" } @headers)
           . "\r\n$body";
}

sub ant {
    return upreq('/v1/messages/count_tokens', shift,
                 "x-api-key: $ENV{ANT_TEST_KEY}",
                 'anthropic-version: 2023-06-01');
}

sub gem {
    my ($model, $body) = @_;

    return upreq("/v1beta/models/$model:countTokens", $body,
                 "x-goog-api-key: $ENV{GEMINI_TEST_KEY}");
}

sub reply {
    my ($body, $status) = @_;

    return 'HTTP/1.1 ' . ($status // '200 OK')
           . "\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

repeat_each(2);
no_long_string();
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=env:ANT_TEST_KEY;
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=env:GEMINI_TEST_KEY;
    llm_provider openai type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route claude-sonnet claude:claude-sonnet-4-5;
    llm_route ~^claude- claude;
    llm_route flash gemini:gemini-2.5-flash;
    llm_route ~^gemini- gemini;
    llm_route gpt openai:gpt-4o-mini;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v1 {
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

=== TEST 1: Anthropic target: the body goes to /v1/messages/count_tokens
with the routed model and no sampling; the provider's count comes back,
not flagged as an estimate
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::ant('{"model":"claude-sonnet-4-5",'
. '"system":[{"type":"text","text":"Be brief."}],'
. '"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}')
--- tcp_reply eval
::reply('{"input_tokens":14}')
--- request
POST /v1/messages/count_tokens
{"model":"claude-sonnet","system":"Be brief.","temperature":0.5,"top_k":3,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
Content-Type: application/json
X-LLM-Token-Count:
--- response_body
{"input_tokens":14}
--- no_error_log
[error]
sk-ant-test-c0un7



=== TEST 2: Anthropic target: tools, tool_choice, tool use and result,
thinking: all counted by the provider
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::ant('{"model":"claude-opus-4-1","messages":[{"role":"user","content":'
. '[{"type":"text","text":"Weather?"}]},{"role":"assistant","content":'
. '[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":'
. '{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result",'
. '"tool_use_id":"toolu_01","content":"18C"}]}],"tools":[{"name":'
. '"get_weather","description":"Weather","input_schema":{"type":'
. '"object"}}],"tool_choice":{"type":"auto"},"thinking":{"type":'
. '"enabled","budget_tokens":2048}}')
--- tcp_reply eval
::reply('{"input_tokens":612}')
--- request
POST /v1/messages/count_tokens
{"model":"claude-opus-4-1","thinking":{"type":"enabled","budget_tokens":2048},"tool_choice":{"type":"auto"},"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"18C"}]}]}
--- error_code: 200
--- response_body
{"input_tokens":612}
--- no_error_log
[error]



=== TEST 3: Anthropic target: its error in Anthropic's format, the status
kept
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply('{"type":"error","error":{"type":"invalid_request_error",'
. '"message":"messages: at least one message is required"}}',
'400 Bad Request')
--- request
POST /v1/messages/count_tokens
{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body
{"type":"error","error":{"type":"invalid_request_error","message":"messages: at least one message is required"}}
--- no_error_log
[error]



=== TEST 4: Gemini target: a generateContentRequest with its model goes to
:countTokens; totalTokens is the Anthropic client's input_tokens
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::gem('gemini-2.5-flash', '{"generateContentRequest":{"systemInstruction":'
. '{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":'
. '[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":'
. '"get_weather","description":"Weather","parametersJsonSchema":{"type":"object"}}]}],'
. '"model":"models/gemini-2.5-flash"}}')
--- tcp_reply eval
::reply('{"totalTokens": 31, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}]}')
--- request
POST /v1/messages/count_tokens
{"model":"flash","system":"Be brief.","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body
{"input_tokens":31}
--- no_error_log
[error]



=== TEST 5: Gemini-native :countTokens to a Gemini target: {"contents"}
in, {"totalTokens"} out
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::gem('gemini-2.0-flash', '{"generateContentRequest":{"contents":'
. '[{"role":"user","parts":[{"text":"Why is the sky blue?"}]}],'
. '"model":"models/gemini-2.0-flash"}}')
--- tcp_reply eval
::reply('{"totalTokens":7}')
--- request
POST /v1beta/models/gemini-2.0-flash:countTokens
{"contents":[{"role":"user","parts":[{"text":"Why is the sky blue?"}]}]}
--- error_code: 200
--- response_body
{"totalTokens":7}
--- no_error_log
[error]



=== TEST 6: Gemini-native :countTokens with a generateContentRequest, to
an Anthropic target
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::ant('{"model":"claude-sonnet-4-5","system":[{"type":"text","text":'
. '"Terse."}],"messages":[{"role":"user","content":[{"type":"text",'
. '"text":"hello"}]}]}')
--- tcp_reply eval
::reply('{"input_tokens":11}')
--- request
POST /v1beta/models/claude-sonnet:countTokens
{"generateContentRequest":{"model":"models/claude-sonnet","systemInstruction":{"parts":[{"text":"Terse."}]},"contents":[{"role":"user","parts":[{"text":"hello"}]}]}}
--- error_code: 200
--- response_body
{"totalTokens":11}
--- no_error_log
[error]



=== TEST 7: an OpenAI target has no count endpoint: the estimate, flagged,
in each client's format (the provider never asked)
--- request eval
[ "POST /v1/messages/count_tokens\n"
  . '{"model":"gpt","messages":[{"role":"user","content":"hi there"}]}',
  "POST /v1beta/models/gpt:countTokens\n"
  . '{"contents":[{"role":"user","parts":[{"text":"hi there"}]}]}' ]
--- error_code eval
[200, 200]
--- response_headers eval
[ "X-LLM-Token-Count: estimated", "X-LLM-Token-Count: estimated" ]
--- response_body eval
[ "{\"input_tokens\":5}\n", "{\"totalTokens\":5}\n" ]
--- no_error_log
[error]



=== TEST 8: no fallback for a count: the primary's failure is the answer
--- http_config
    llm_provider claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=env:ANT_TEST_KEY;
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=env:GEMINI_TEST_KEY;
    llm_route claude-sonnet claude:claude-sonnet-4-5
              fallback=gemini:gemini-2.5-flash;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply('{"type":"error","error":{"type":"overloaded_error",'
. '"message":"Overloaded"}}', '529 Overloaded')
--- config
    location /v1 {
        llm_pass;
    }
    location /mock/ {
        return 200 '{"totalTokens":99}';
    }
--- request
POST /v1/messages/count_tokens
{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}
--- error_code: 503
--- response_body_like
^\{"type":"error","error":\{"type":"overloaded_error","message":"Overloaded"\}\}$
--- error_log
llm provider "claude" answered 529



=== TEST 9: Bedrock target: CountTokens, POST /model/{id}/count-tokens
with {"input":{"converse":{messages, system, toolConfig}}} (no
inferenceConfig), SigV4-signed; inputTokens is input_tokens
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 region=us-east-1 base=/mock key=env:BEDROCK_TEST_KEY;
    llm_route claude-bedrock br:anthropic.claude-3-5-haiku-20241022-v1:0;
--- config
    location /v1 {
        llm_pass;
    }
    location = /mock/model/anthropic.claude-3-5-haiku-20241022-v1:0/count-tokens {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id "$request_uri auth=$http_authorization body=$request_body";
        echo -n '{"inputTokens":23}';
    }
--- request
POST /v1/messages/count_tokens
{"model":"claude-bedrock","max_tokens":10,"system":"Be brief.","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Weather?"}]}
--- error_code: 200
--- response_headers_like
X-Request-Id: ^/mock/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/count-tokens auth=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=[^ ]+, Signature=[0-9a-f]{64} body=\{"input":\{"converse":\{"messages":\[\{"role":"user","content":\[\{"text":"Weather\?"\}\]\}\],"system":\[\{"text":"Be brief."\}\],"toolConfig":\{"tools":\[\{"toolSpec":\{"name":"get_weather","description":"Weather","inputSchema":\{"json":\{"type":"object"\}\}\}\}\]\}\}\}\}$
--- response_body
{"input_tokens":23}
--- no_error_log
[error]



=== TEST 10: Bedrock without token counting for the model (400
ValidationException): the estimate, flagged, logged at info
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 region=us-east-1 base=/mock key=env:BEDROCK_TEST_KEY;
    llm_route nova br:us.amazon.nova-micro-v1:0;
--- config
    location /v1 {
        llm_pass;
    }
    location = /mock/model/us.amazon.nova-micro-v1:0/count-tokens {
        default_type application/json;
        add_header x-amzn-ErrorType ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/;
        return 400 '{"message":"The provided model doesn\'t support counting tokens."}';
    }
--- request
POST /v1/messages/count_tokens
{"model":"nova","messages":[{"role":"user","content":"hi there"}]}
--- error_code: 200
--- response_headers
X-LLM-Token-Count: estimated
--- response_body
{"input_tokens":5}
--- log_level: info
--- error_log
llm provider "br" did not count tokens (400): estimated
--- no_error_log
[error]
