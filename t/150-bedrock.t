# The AWS Bedrock provider (type=bedrock): Converse and ConverseStream.
# The request (URL with the model id escaped, SigV4 headers, the Converse
# body) with tcp_listen: the date and signature vary with the clock, so
# the request is matched by a regular expression (SigV4 itself is checked
# against AWS's test suite and a Bedrock-shaped request, whose signature
# t/151-sigv4-vectors.t recomputes with Digest::SHA); recorded
# answers (t/fixtures/derived/pydantic-ai/test_bedrock) translated to
# OpenAI responses; recorded binary event streams (*.eventstream.bin)
# replayed with tcp_reply and translated to OpenAI chunks; errors.

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too

use File::Basename ();

$ENV{BEDROCK_TEST_KEY} = 'AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+CANARY/bPxRfiCYEXAMPLE';

$ENV{BEDROCK_TEST_TOKEN_KEY} = 'AKID:SECRET:SESSION-TOKEN';

our $Fixtures = File::Basename::dirname(__FILE__) . '/fixtures';
our $Dir = 'derived/pydantic-ai/test_bedrock';

sub fixture {
    my $path = shift;

    open my $fh, '<:raw', "$Fixtures/$path" or die "$path: $!";
    local $/;
    return <$fh>;
}

sub reply {
    my ($body, $type, $status) = @_;

    return 'HTTP/1.1 ' . ($status // '200 OK') . "\r\nContent-Type: "
           . ($type // 'application/json') . "\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

# the OpenAI chunks of a decoded recording, as the client gets them
sub chunks_like {
    my ($jsonl, $text) = @_;

    return '^data: \{"id":"chatcmpl-[A-Za-z0-9]+","object":'
           . '"chat.completion.chunk","created":\d+,"model":"nova",'
           . '"choices":\[\{"index":0,"delta":\{"role":"assistant",'
           . '"content":""\}.*' . $text . '.*"finish_reason":"stop"\}\]\}'
           . '\n\ndata: \[DONE\]\n\n\z';
}

# an echo mock answering "body", with what it got in X-Request-Id
sub mock {
    my ($uri, $body, $status) = @_;

    $body =~ s/\\/\\\\/g;
    $body =~ s/'/\\'/g;
    $body =~ s/\n/\\n/g;

    return "    location = $uri {\n"
           . "        default_type application/json;\n"
           . "        echo_read_request_body;\n"
           . ($status ? "        echo_status $status;\n" : '')
           . '        add_header X-Request-Id "$request_method $request_uri'
           . ' host=$http_host date=$http_x_amz_date'
           . ' ct=$http_content_type accept=$http_accept'
           . ' auth=$http_authorization token=$http_x_amz_security_token'
           . ' body=$request_body";' . "\n"
           . "        echo -n '$body';\n"
           . "    }\n";
}

repeat_each(2);
no_long_string();
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 region=us-east-1 base=/mock key=env:BEDROCK_TEST_KEY;
    llm_route nova br:us.amazon.nova-micro-v1:0;
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

=== TEST 1: Converse: the recorded answer as an OpenAI chat.completion
--- config eval
main::mock('/mock/model/us.amazon.nova-micro-v1:0/converse',
           main::fixture("$::Dir/test_bedrock_model/0.response.json"))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","messages":[{"role":"system","content":"You are a '
. 'chatbot."},{"role":"user","content":"Hello!"}]}'
--- response_body_like eval
'^\{"id":"chatcmpl-[A-Za-z0-9]+","object":"chat.completion","created":\d+,'
. '"model":"nova","choices":\[\{"index":0,"message":\{"role":"assistant",'
. '"content":"Hello! How can I assist you today\? Whether you have '
. 'questions, need information, or just want to chat, I\'m here to help.",'
. '"refusal":null\},"logprobs":null,"finish_reason":"stop"\}\],"usage":'
. '\{"prompt_tokens":7,"completion_tokens":30,"total_tokens":37,'
. '"prompt_tokens_details":\{"cached_tokens":0\}\}\}\z'
--- no_error_log
[error]



=== TEST 2: the request: POST {base}/model/{escaped id}/converse, the
SigV4 headers for the bedrock service and region, the Converse body
(system, merged turns, toolUse, toolResult, inferenceConfig, toolConfig
with toolChoice any)
--- config eval
main::mock('/mock/model/us.amazon.nova-micro-v1:0/converse',
           main::fixture("$::Dir/test_bedrock_model/0.response.json"))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","max_tokens":100,"temperature":0.5,"stop":["END"],'
. '"messages":[{"role":"system","content":"Be brief."},'
. '{"role":"user","content":"Weather in Paris?"},'
. '{"role":"assistant","content":null,"tool_calls":[{"id":"tooluse_1",'
. '"type":"function","function":{"name":"get_weather",'
. '"arguments":"{\"city\":\"Paris\"}"}}]},'
. '{"role":"tool","tool_call_id":"tooluse_1","content":"18C"},'
. '{"role":"user","content":"Thanks"}],'
. '"tools":[{"type":"function","function":{"name":"get_weather",'
. '"description":"Current weather","parameters":{"type":"object"}}}],'
. '"tool_choice":"required"}'
--- response_headers_like
X-Request-Id: ^POST /mock/model/us.amazon.nova-micro-v1%3A0/converse host=127.0.0.1 date=\d{8}T\d{6}Z ct=application/json accept=application/json auth=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64} token= body=\{"messages":\[\{"role":"user","content":\[\{"text":"Weather in Paris\?"\}\]\},\{"role":"assistant","content":\[\{"toolUse":\{"toolUseId":"tooluse_1","name":"get_weather","input":\{"city":"Paris"\}\}\}\]\},\{"role":"user","content":\[\{"toolResult":\{"toolUseId":"tooluse_1","content":\[\{"text":"18C"\}\]\}\},\{"text":"Thanks"\}\]\}\],"system":\[\{"text":"Be brief."\}\],"inferenceConfig":\{"maxTokens":100,"temperature":0.5,"stopSequences":\["END"\]\},"toolConfig":\{"tools":\[\{"toolSpec":\{"name":"get_weather","description":"Current weather","inputSchema":\{"json":\{"type":"object"\}\}\}\}\],"toolChoice":\{"any":\{\}\}\}\}$
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 3: a session token goes in X-Amz-Security-Token and is signed;
an API key (no ":") is a bearer token
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 region=eu-west-3 base=/mock key=env:BEDROCK_TEST_TOKEN_KEY;
    llm_route nova br:us.amazon.nova-micro-v1:0;
--- config eval
main::mock('/mock/model/us.amazon.nova-micro-v1:0/converse',
           main::fixture("$::Dir/test_bedrock_model/0.response.json"))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","messages":[{"role":"user","content":"hi"}]}'
--- response_headers_like
X-Request-Id: .*Credential=AKID/\d{8}/eu-west-3/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64} token=SESSION-TOKEN body=.*
--- no_error_log
[error]



=== TEST 4: ConverseStream: the recorded binary event stream (text)
replayed, OpenAI chunks with usage when asked
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 region=us-east-1 key=env:BEDROCK_TEST_KEY;
    llm_route nova br:us.amazon.nova-micro-v1:0;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply(main::fixture(
    "$::Dir/test_bedrock_model_stream/0.response.eventstream.bin"),
    'application/vnd.amazon.eventstream')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","stream":true,"stream_options":{"include_usage":true},'
. '"messages":[{"role":"user","content":"What is the capital of France?"}]}'
--- response_body_like eval
'^data: \{"id":"chatcmpl-[A-Za-z0-9]+","object":"chat.completion.chunk",'
. '"created":\d+,"model":"nova","choices":\[\{"index":0,"delta":'
. '\{"role":"assistant","content":""\},"finish_reason":null\}\]\}\n\n'
. 'data: .*"delta":\{"content":"The"\}.*'
. '"delta":\{"content":" capital of France is Paris."\}.*'
. '"finish_reason":"stop"\}\]\}\n\n'
. 'data: \{[^\n]*"choices":\[\],"usage":\{"prompt_tokens":\d+,'
. '"completion_tokens":\d+,"total_tokens":\d+[^\n]*\}\n\n'
. 'data: \[DONE\]\n\n\z'
--- no_error_log
[error]



=== TEST 5: ConverseStream with a tool call: text, then the toolUse block
as tool call 0 with its arguments; finish tool_calls
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 region=us-east-1 key=env:BEDROCK_TEST_KEY;
    llm_route nova br:us.amazon.nova-micro-v1:0;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply(main::fixture(
    "$::Dir/test_bedrock_model_iter_stream/0.response.eventstream.bin"),
    'application/vnd.amazon.eventstream')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","stream":true,'
. '"messages":[{"role":"user","content":"Temperature in Paris?"}]}'
--- response_body_like eval
'"delta":\{"content":"<thinking"\}.*'
. '"delta":\{"tool_calls":\[\{"index":0,"id":"tooluse_lAG_zP8QRHmSYOwZzzaCqA",'
. '"type":"function","function":\{"name":"get_temperature","arguments":""\}'
. '\}\]\}.*"function":\{"arguments":"\{\\\\"city\\\\":\\\\"Paris\\\\"\}"\}.*'
. '"finish_reason":"tool_calls"\}\]\}\n\ndata: \[DONE\]\n\n\z'
--- no_error_log
[error]



=== TEST 6: ConverseStream to an Anthropic client
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 region=us-east-1 key=env:BEDROCK_TEST_KEY;
    llm_route nova br:us.amazon.nova-micro-v1:0;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply(main::fixture(
    "$::Dir/test_bedrock_model_stream/0.response.eventstream.bin"),
    'application/vnd.amazon.eventstream')
--- request eval
"POST /v1/messages\n"
. '{"model":"nova","max_tokens":100,"stream":true,'
. '"messages":[{"role":"user","content":"What is the capital of France?"}]}'
--- response_body_like eval
'^event: message_start\n.*"text":"The".*"stop_reason":"end_turn".*'
. 'event: message_stop\ndata: \{"type":"message_stop"\}\n\n\z'
--- no_error_log
[error]



=== TEST 7: a corrupted frame (bad CRC) ends the stream, logged
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 region=us-east-1 key=env:BEDROCK_TEST_KEY;
    llm_route nova br:us.amazon.nova-micro-v1:0;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
my $s = main::fixture(
    "$::Dir/test_bedrock_model_stream/0.response.eventstream.bin");
substr($s, 200, 1) = chr(ord(substr($s, 200, 1)) ^ 1);
main::reply($s, 'application/vnd.amazon.eventstream')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","stream":true,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- ignore_response
--- error_log
sent a bad event-stream frame: bad message CRC



=== TEST 8: an exception frame becomes an error event
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 region=us-east-1 key=env:BEDROCK_TEST_KEY;
    llm_route nova br:us.amazon.nova-micro-v1:0;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
use Compress::Zlib ();
sub frame {
    my ($headers, $payload) = @_;
    my $h = '';
    for my $k (sort keys %$headers) {
        $h .= pack('C', length $k) . $k . pack('Cn', 7, length $headers->{$k})
              . $headers->{$k};
    }
    my $total = 12 + length($h) + length($payload) + 4;
    my $prelude = pack('NN', $total, length $h);
    $prelude .= pack('N', Compress::Zlib::crc32($prelude));
    my $msg = $prelude . $h . $payload;
    return $msg . pack('N', Compress::Zlib::crc32($msg));
}
main::reply(frame({':message-type' => 'event', ':event-type' => 'messageStart',
                   ':content-type' => 'application/json'},
                  '{"role":"assistant"}')
            . frame({':message-type' => 'exception',
                     ':exception-type' => 'throttlingException',
                     ':content-type' => 'application/json'},
                    '{"message":"Too many tokens, please wait."}'),
            'application/vnd.amazon.eventstream')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","stream":true,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_body_like: "error":\{"message":"Too many tokens, please wait."
--- error_log
sent a "throttlingException" exception



=== TEST 9: a Converse error: {"message"} with its status, the exception
name from x-amzn-ErrorType as the code
--- config
    location = /mock/model/us.amazon.nova-micro-v1:0/converse {
        default_type application/json;
        add_header x-amzn-ErrorType "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/" always;
        return 400 '{"message":"The provided model identifier is invalid."}';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","messages":[{"role":"user","content":"hello"}]}'
--- error_code: 400
--- response_body_like: "message":"The provided model identifier is invalid."
--- no_error_log
[alert]



=== TEST 10: bedrock needs region=
--- http_config
    llm_provider br type=bedrock upstream=127.0.0.1:1 key=env:BEDROCK_TEST_KEY;
    llm_route default br;
--- config
--- must_die
--- error_log
llm_provider "br" of type "bedrock" needs "region="
