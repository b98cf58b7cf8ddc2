# The Responses passthrough (llm_provider responses=native): a Responses
# client in front of a provider that serves /v1/responses itself (OpenAI,
# Azure v1) gets the provider's Response and typed events byte for byte;
# only "model" is rewritten in the request (tcp_listen/tcp_query); usage
# is read from the Response or from response.completed for the $llm_*
# variables; errors keep their status; previous_response_id and store go
# to the provider, which keeps the state.  Defaults: native for OpenAI's
# own host and Azure's v1 API, translated elsewhere; responses=translate
# and responses=native override; native needs an OpenAI-format type.

use Test::Nginx::Socket 'no_plan';

$ENV{LLM_TEST_KEY} = 'sk-test-r3sp0n5e5';

our $Req = '{"model":"smart","input":"Weather in Paris?",'
    . '"previous_response_id":"resp_prev1","store":true,'
    . '"tools":[{"type":"function","name":"get_weather","parameters":'
    . '{"type":"object","properties":{"city":{"type":"string"}}}},'
    . '{"type":"web_search_preview"}],"include":["reasoning.encrypted_content"]}';

(our $Up = $Req) =~ s/"model":"smart"/"model":"gpt-4.1"/;

our $Response = '{"id":"resp_67ccd2","object":"response","created_at":1741'
    . '476542,"status":"completed","error":null,"model":"gpt-4.1-2025-04-14",'
    . '"output":[{"type":"function_call","id":"fc_12345","call_id":'
    . '"call_12345","name":"get_weather","arguments":"{\"city\":\"Paris\"}",'
    . '"status":"completed"}],"previous_response_id":"resp_prev1",'
    . '"store":true,"usage":{"input_tokens":291,"input_tokens_details":'
    . '{"cached_tokens":128},"output_tokens":23,"output_tokens_details":'
    . '{"reasoning_tokens":0},"total_tokens":314}}';

our @Events = (
    ['response.created', '{"type":"response.created","sequence_number":0,'
     . '"response":{"id":"resp_1","object":"response","created_at":1,'
     . '"status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],'
     . '"usage":null}}'],
    ['response.output_item.added', '{"type":"response.output_item.added",'
     . '"sequence_number":1,"output_index":0,"item":{"id":"fc_1","type":'
     . '"function_call","status":"in_progress","arguments":"","call_id":'
     . '"call_1","name":"get_weather"}}'],
    ['response.function_call_arguments.delta', '{"type":'
     . '"response.function_call_arguments.delta","sequence_number":2,'
     . '"item_id":"fc_1","output_index":0,"delta":"{\"city\":"}'],
    ['response.function_call_arguments.delta', '{"type":'
     . '"response.function_call_arguments.delta","sequence_number":3,'
     . '"item_id":"fc_1","output_index":0,"delta":"\"Paris\"}"}'],
    ['response.function_call_arguments.done', '{"type":'
     . '"response.function_call_arguments.done","sequence_number":4,'
     . '"item_id":"fc_1","output_index":0,"arguments":'
     . '"{\"city\":\"Paris\"}"}'],
    ['response.output_item.done', '{"type":"response.output_item.done",'
     . '"sequence_number":5,"output_index":0,"item":{"id":"fc_1","type":'
     . '"function_call","status":"completed","arguments":'
     . '"{\"city\":\"Paris\"}","call_id":"call_1","name":"get_weather"}}'],
    ['response.completed', '{"type":"response.completed","sequence_number":'
     . '6,"response":{"id":"resp_1","object":"response","created_at":1,'
     . '"status":"completed","model":"gpt-4.1-2025-04-14","output":[{"id":'
     . '"fc_1","type":"function_call","status":"completed","arguments":'
     . '"{\"city\":\"Paris\"}","call_id":"call_1","name":"get_weather"}],'
     . '"usage":{"input_tokens":57,"input_tokens_details":{"cached_tokens":'
     . '0},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":'
     . '0},"total_tokens":73}}}'],
);

our $Sse = join '', map { "event: $_->[0]\ndata: $_->[1]\n\n" } @Events;

sub upreq {
    my ($body, %o) = @_;

    return 'POST ' . ($o{path} // '/v1/responses') . " HTTP/1.1\r\n"
           . 'Host: ' . ($o{host} // 'api.openai.com') . "\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . 'Accept: ' . ($o{stream} ? 'text/event-stream'
                                      : 'application/json') . "\r\n"
           . "Accept-Encoding: identity\r\n"
           . ($o{auth} // "Authorization: Bearer $ENV{LLM_TEST_KEY}\r\n")
           . "\r\n$body";
}

sub reply {
    my ($body, $status, $type) = @_;

    return 'HTTP/1.1 ' . ($status // '200 OK') . "\r\nContent-Type: "
           . ($type // 'application/json') . "\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

sub chunked {
    return join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @_)
           . "0\r\n\r\n";
}

sub sse_reply {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
           . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           . chunked(@_);
}

our $HttpConfig = <<'_EOC_';
    llm_provider openai type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=api.openai.com key=env:LLM_TEST_KEY;
    llm_route smart openai:gpt-4.1;

    log_format llm 'model=$llm_model provider=$llm_provider '
                   'prompt=$llm_prompt_tokens completion=$llm_completion_tokens '
                   'total=$llm_total_tokens cached=$llm_cached_tokens '
                   'stream=$llm_stream usage=$llm_usage status=$status';
_EOC_

our $Config = <<'_EOC_';
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
        access_log $TEST_NGINX_SERVER_ROOT/logs/llm.log llm;
    }

    location = /log {
        access_log off;
        alias $TEST_NGINX_SERVER_ROOT/logs/llm.log;
    }
_EOC_

repeat_each(2);
no_long_string();
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->config) {
        $block->set_value('config', defined $block->http_config
                          ? "    location /v1/ {\n        llm_pass;\n    }\n"
                          : $::Config);
    }

    if (!defined $block->http_config) {
        $block->set_value('http_config', $::HttpConfig);
    }
});

run_tests();

__DATA__

=== TEST 1: non-stream: the request as sent but for the model (hosted
tools, previous_response_id, store, include go to the provider), the
Response back byte for byte, its usage in the variables
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval: ::upreq($::Up)
--- tcp_reply eval: ::reply($::Response)
--- request eval
["POST /v1/responses\n$::Req", "GET /log"]
--- error_code eval
[200, 200]
--- response_headers eval
["Content-Type: application/json", ""]
--- response_body eval
[$::Response, qr/(?:^|\n)model=smart provider=openai prompt=291 completion=23 total=314 cached=128 stream=0 usage=provider status=200\n\z/]
--- no_error_log
[error]
sk-test-r3sp0n5e5



=== TEST 2: stream: the typed events byte for byte (names kept, no
stream_options added, no [DONE]), usage from response.completed
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
my $b = $::Up;
$b =~ s/^\{/{"stream":true,/;
::upreq($b, stream => 1)
--- tcp_reply eval
::sse_reply(substr($::Sse, 0, 100), substr($::Sse, 100, 333),
            substr($::Sse, 433))
--- request eval
my $b = $::Req;
$b =~ s/^\{/{"stream":true,/;
["POST /v1/responses\n$b", "GET /log"]
--- response_headers eval
["Content-Type: text/event-stream", ""]
--- response_body eval
[$::Sse, qr/(?:^|\n)model=smart provider=openai prompt=57 completion=16 total=73 cached=0 stream=1 usage=provider status=200\n\z/]
--- no_error_log
[error]



=== TEST 3: the provider's error keeps its status and message (OpenAI's
error format is the Responses API's)
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::reply('{"error":{"message":"Previous response with id \'resp_prev1\' '
. 'not found.","type":"invalid_request_error","param":'
. '"previous_response_id","code":"previous_response_not_found"}}',
'400 Bad Request')
--- request eval
"POST /v1/responses\n$::Req"
--- error_code: 400
--- response_body_like
^\{"error":\{"message":"Previous response with id 'resp_prev1' not found.","type":"invalid_request_error","param":null,"code":"previous_response_not_found"\}\}
--- no_error_log
[error]



=== TEST 4: the stream breaks before response.completed: an "error"
event in the Responses format ends it
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
. "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
. ::chunked(substr($::Sse, 0, 350)) =~ s/0\r\n\r\n\z//r
--- request eval
my $b = $::Req;
$b =~ s/^\{/{"stream":true,/;
"POST /v1/responses\n$b"
--- response_body eval
substr($::Sse, 0, rindex(substr($::Sse, 0, 350), "\n\n") + 2)
. "event: error\ndata: {\"type\":\"error\",\"code\":\"upstream_error\","
. "\"message\":\"The model provider's stream failed before it was "
. "complete.\",\"param\":null}\n\n"



=== TEST 5: responses=translate: the same provider gets a chat
completion; previous_response_id is then refused by the gateway
--- http_config
    llm_provider openai type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=api.openai.com key=env:LLM_TEST_KEY responses=translate;
    llm_route smart openai:gpt-4.1;
--- request eval
"POST /v1/responses\n$::Req"
--- error_code: 400
--- response_body_like chomp
"message":"'previous_response_id' is not supported
--- no_error_log
[error]



=== TEST 6: responses=native on a local OpenAI-compatible server (its
default is to translate): /v1/responses there, no Authorization with
key=none
--- http_config
    llm_provider vllm type=vllm upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 responses=native;
    llm_route smart vllm:gpt-4.1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval: ::upreq($::Up, host => '127.0.0.1', auth => '')
--- tcp_reply eval: ::reply($::Response)
--- request eval
"POST /v1/responses\n$::Req"
--- response_body eval: $::Response
--- no_error_log
[error]



=== TEST 7: Azure v1 API: native by default, {base}/v1/responses with the
api-key header
--- http_config
    llm_provider az type=azure upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=res.openai.azure.com version=v1 key=env:LLM_TEST_KEY;
    llm_route smart az:gpt-4.1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq($::Up, host => 'res.openai.azure.com', path => '/openai/v1/responses',
        auth => "api-key: $ENV{LLM_TEST_KEY}\r\n")
--- tcp_reply eval: ::reply($::Response)
--- request eval
"POST /v1/responses\n$::Req"
--- response_body eval: $::Response
--- no_error_log
[error]



=== TEST 8: responses=native is only for OpenAI-format types
--- http_config
    llm_provider claude type=anthropic upstream=127.0.0.1:1 key=none
                 responses=native;
--- config
--- must_die
--- suppress_stderr
--- request
GET /t
--- error_log eval
qr/"responses=native" of llm_provider "claude" is only for OpenAI-compatible types in \S+nginx\.conf:\d+/



=== TEST 9: responses= takes native or translate
--- http_config
    llm_provider o type=openai upstream=127.0.0.1:1 key=none responses=yes;
--- config
--- must_die
--- suppress_stderr
--- request
GET /t
--- error_log eval
qr/invalid parameter "responses=yes" in \S+nginx\.conf:\d+/



=== TEST 10: Azure's classic API with responses=native: {base}/responses
?api-version=, not per deployment; the deployment is the body's model
--- http_config
    llm_provider az type=azure upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=res.openai.azure.com version=2025-04-01-preview
                 key=env:LLM_TEST_KEY responses=native;
    llm_route smart az:gpt-4.1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq($::Up, host => 'res.openai.azure.com',
        path => '/openai/responses?api-version=2025-04-01-preview',
        auth => "api-key: $ENV{LLM_TEST_KEY}\r\n")
--- tcp_reply eval: ::reply($::Response)
--- request eval
"POST /v1/responses\n$::Req"
--- response_body eval: $::Response
--- no_error_log
[error]
