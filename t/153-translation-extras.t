# Translation, the rest of it: OpenAI /v1/embeddings to Gemini
# (batchEmbedContents, byte-exact with tcp_query) and to Bedrock (Titan
# Text Embeddings V2, one input; Cohere Embed, batches: InvokeModel,
# signed, matched by an echo mock), float and base64 answers; Bedrock
# response_format (Converse outputConfig.textFormat) and documents;
# redacted_thinking in Anthropic and Bedrock streams (the Anthropic
# surface gets it byte-exact, the OpenAI surface drops it); a provider
# that answers "Content-Encoding: br" though identity was asked for: a
# 502 in the client's format, logged once.

use Test::Nginx::Socket 'no_plan';

use MIME::Base64 ();
use Compress::Zlib ();

$ENV{GEMINI_TEST_KEY} = 'AIzaSy-test-7c1e5d';
$ENV{BEDROCK_TEST_KEY} = 'AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
$ENV{LLM_TEST_KEY} = 'sk-ant-test';

# the request Gemini gets, as t/120-gemini.t has it
sub gemini_req {
    my ($path, $body) = @_;

    return "POST /mock/v1beta/models/$path HTTP/1.1\r\n"
           . "Host: 127.0.0.1\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Accept: application/json\r\n"
           . "Accept-Encoding: identity\r\n"
           . "x-goog-api-key: $ENV{GEMINI_TEST_KEY}\r\n"
           . "\r\n$body";
}

sub reply {
    my ($body, $type, $status, $extra) = @_;

    return 'HTTP/1.1 ' . ($status // '200 OK') . "\r\nContent-Type: "
           . ($type // 'application/json') . "\r\n" . ($extra // '')
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

# an echo mock answering "body", what it got in X-Request-Id
sub mock {
    my ($uri, $body) = @_;

    $body =~ s/\\/\\\\/g;
    $body =~ s/'/\\'/g;

    return "    location = $uri {\n"
           . "        default_type application/json;\n"
           . "        echo_read_request_body;\n"
           . '        add_header X-Request-Id "$request_method $request_uri'
           . ' auth=$http_authorization body=$request_body";' . "\n"
           . "        echo -n '$body';\n"
           . "    }\n";
}

# OpenAI's base64 form: little-endian float32s
sub b64 { MIME::Base64::encode_base64(pack('f<*', @_), '') }

# one AWS event-stream frame of a JSON event
sub es_frame {
    my ($event, $payload) = @_;

    my $h = '';
    for my $kv ([':event-type', $event],
                [':content-type', 'application/json'],
                [':message-type', 'event'])
    {
        $h .= pack('C', length $kv->[0]) . $kv->[0]
              . pack('Cn', 7, length $kv->[1]) . $kv->[1];
    }

    my $total = 12 + length($h) + length($payload) + 4;
    my $prelude = pack('NN', $total, length $h);
    my $msg = $prelude . pack('N', Compress::Zlib::crc32($prelude)) . $h
              . $payload;

    return $msg . pack('N', Compress::Zlib::crc32($msg));
}

sub ev { "event: $_[0]\ndata: $_[1]\n\n" }

our $Redacted = 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP';

our $AnthropicStream =
    ev('message_start', '{"type":"message_start","message":{"id":"msg_01R","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}')
  . ev('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"' . $Redacted . '"}}')
  . ev('content_block_stop', '{"type":"content_block_stop","index":0}')
  . ev('content_block_start', '{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}')
  . ev('content_block_delta', '{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi."}}')
  . ev('content_block_stop', '{"type":"content_block_stop","index":1}')
  . ev('message_delta', '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}')
  . ev('message_stop', '{"type":"message_stop"}');

our $BedrockStream = join '',
    es_frame('messageStart', '{"role":"assistant"}'),
    es_frame('contentBlockDelta', '{"contentBlockIndex":0,"delta":{"reasoningContent":{"redactedContent":"' . $Redacted . '"}}}'),
    es_frame('contentBlockStop', '{"contentBlockIndex":0}'),
    es_frame('contentBlockDelta', '{"contentBlockIndex":1,"delta":{"text":"Hi."}}'),
    es_frame('contentBlockStop', '{"contentBlockIndex":1}'),
    es_frame('messageStop', '{"stopReason":"end_turn"}'),
    es_frame('metadata', '{"usage":{"inputTokens":12,"outputTokens":9,"totalTokens":21},"metrics":{"latencyMs":100}}');

repeat_each(2);
no_long_string();
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_provider br type=bedrock upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 region=us-east-1 base=/mock key=env:BEDROCK_TEST_KEY;
    llm_provider brs type=bedrock upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 region=us-east-1 key=env:BEDROCK_TEST_KEY;
    llm_provider claude type=anthropic upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=env:LLM_TEST_KEY;
    llm_route gemini-embedding-001 gemini;
    llm_route titan br:amazon.titan-embed-text-v2:0;
    llm_route titan-v1 br:amazon.titan-embed-text-v1;
    llm_route cohere br:cohere.embed-english-v3;
    llm_route cohere-v4 br:us.cohere.embed-v4:0;
    llm_route nova br:us.amazon.nova-micro-v1:0;
    llm_route nova-stream brs:us.amazon.nova-micro-v1:0;
    llm_route claude claude:claude-sonnet-4-5;
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

=== TEST 1: Gemini embeddings: one string, dimensions as
outputDimensionality, batchEmbedContents; the OpenAI list back, usage 0
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::gemini_req('gemini-embedding-001:batchEmbedContents',
    '{"requests":[{"model":"models/gemini-embedding-001","content":'
    . '{"parts":[{"text":"What is \"meaning\"?"}]},'
    . '"outputDimensionality":3}]}')
--- tcp_reply eval
main::reply('{"embeddings":[{"values":[0.0123,-0.5,3.25e-2]}]}')
--- request eval
"POST /v1/embeddings\n"
. '{"model":"gemini-embedding-001","input":"What is \"meaning\"?",'
. '"dimensions":3,"encoding_format":"float"}'
--- error_code: 200
--- response_body chomp
{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0123,-0.5,3.25e-2]}],"model":"gemini-embedding-001","usage":{"prompt_tokens":0,"total_tokens":0}}
--- no_error_log
[error]



=== TEST 2: Gemini embeddings: a batch, in order, base64 floats
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::gemini_req('gemini-embedding-001:batchEmbedContents',
    '{"requests":[{"model":"models/gemini-embedding-001","content":'
    . '{"parts":[{"text":"one"}]}},{"model":"models/gemini-embedding-001",'
    . '"content":{"parts":[{"text":"two"}]}}]}')
--- tcp_reply eval
main::reply('{"embeddings":[{"values":[0.5,-1]},{"values":[0.25,2,1e-3]}]}')
--- request eval
"POST /v1/embeddings\n"
. '{"model":"gemini-embedding-001","input":["one","two"],'
. '"encoding_format":"base64"}'
--- error_code: 200
--- response_body eval
'{"object":"list","data":[{"object":"embedding","index":0,"embedding":"'
. main::b64(0.5, -1) . '"},{"object":"embedding","index":1,"embedding":"'
. main::b64(0.25, 2, 1e-3) . '"}],"model":"gemini-embedding-001",'
. '"usage":{"prompt_tokens":0,"total_tokens":0}}'
--- no_error_log
[error]



=== TEST 3: Gemini embeddings: token arrays cannot be translated: 400
--- request eval
"POST /v1/embeddings\n"
. '{"model":"gemini-embedding-001","input":[[1,2,3]]}'
--- error_code: 400
--- response_body_like chomp
^\{"error":\{"message":"'input' must be a string or an array of strings for this model's provider: token arrays cannot be translated.","type":"invalid_request_error"



=== TEST 4: Gemini embeddings: one vector for two inputs is a 502
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply('{"embeddings":[{"values":[0.5]}]}')
--- request eval
"POST /v1/embeddings\n"
. '{"model":"gemini-embedding-001","input":["one","two"]}'
--- error_code: 502
--- response_body_like chomp
^\{"error":\{"message":".*","type":"
--- error_log
sent 1 embeddings for 2 inputs



=== TEST 5: Gemini embeddings: a Gemini error keeps its status and message
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply('{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT"}}', 'application/json', '400 Bad Request')
--- request eval
"POST /v1/embeddings\n"
. '{"model":"gemini-embedding-001","input":"x","dimensions":99999}'
--- error_code: 400
--- response_body_like chomp
^\{"error":\{"message":"Request contains an invalid argument.","type":"invalid_request_error"



=== TEST 6: Bedrock embeddings: Titan V2 by InvokeModel, signed,
dimensions; inputTextTokenCount is the usage
--- config eval
main::mock('/mock/model/amazon.titan-embed-text-v2:0/invoke',
    '{"embedding":[0.125,-0.0625],"inputTextTokenCount":3,'
    . '"embeddingsByType":{"float":[0.125,-0.0625]}}')
--- request eval
"POST /v1/embeddings\n"
. '{"model":"titan","input":"hello","dimensions":256}'
--- error_code: 200
--- response_headers_like
X-Request-Id: ^POST /mock/model/amazon.titan-embed-text-v2%3A0/invoke auth=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64} body=\{"inputText":"hello","dimensions":256\}$
--- response_body chomp
{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.125,-0.0625]}],"model":"titan","usage":{"prompt_tokens":3,"total_tokens":3}}
--- no_error_log
[error]



=== TEST 7: Bedrock embeddings: Titan takes one input: a batch is a 400
--- request eval
"POST /v1/embeddings\n"
. '{"model":"titan","input":["a","b"]}'
--- error_code: 400
--- response_body_like chomp
^\{"error":\{"message":"Amazon Titan Text Embeddings takes one input a request: send 'input' as one string, or route batches to a cohere.embed-\* model.","type":"invalid_request_error"
--- no_error_log
[error]



=== TEST 8: Bedrock embeddings: dimensions Titan cannot give: 400s
--- request eval
["POST /v1/embeddings\n" . '{"model":"titan","input":"a","dimensions":300}',
 "POST /v1/embeddings\n" . '{"model":"titan-v1","input":"a","dimensions":256}',
 "POST /v1/embeddings\n" . '{"model":"cohere","input":"a","dimensions":256}',
 "POST /v1/embeddings\n" . '{"model":"nova","input":"a"}',
 "POST /v1/embeddings\n" . '{"model":"titan","input":"a","encoding_format":"int8"}']
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body_like eval
["'dimensions' must be 256, 512 or 1024 for Amazon Titan Text Embeddings V2",
 "'dimensions' is not supported by \\\\\"amazon.titan-embed-text-v1\\\\\"",
 "'dimensions' is not supported by \\\\\"cohere.embed-english-v3\\\\\" \\(Cohere Embed v4 takes it\\)",
 "is not a Bedrock embeddings model this gateway translates to",
 "'encoding_format' must be 'float' or 'base64'"]



=== TEST 9: Bedrock embeddings: Cohere Embed for a batch, base64 back
--- config eval
main::mock('/mock/model/cohere.embed-english-v3/invoke',
    '{"embeddings":[[0.5,1.5],[-2,0.75]],"id":"c0ffee",'
    . '"response_type":"embeddings_floats","texts":["a","b"]}')
--- request eval
"POST /v1/embeddings\n"
. '{"model":"cohere","input":["a","b"],"encoding_format":"base64"}'
--- error_code: 200
--- response_headers_like
X-Request-Id: ^POST /mock/model/cohere.embed-english-v3/invoke auth=AWS4-HMAC-SHA256 .* body=\{"texts":\["a","b"\],"input_type":"search_document"\}$
--- response_body eval
'{"object":"list","data":[{"object":"embedding","index":0,"embedding":"'
. main::b64(0.5, 1.5) . '"},{"object":"embedding","index":1,"embedding":"'
. main::b64(-2, 0.75) . '"}],"model":"cohere",'
. '"usage":{"prompt_tokens":0,"total_tokens":0}}'
--- no_error_log
[error]



=== TEST 10: Bedrock embeddings: Cohere Embed v4, output_dimension, the
answer by type
--- config eval
main::mock('/mock/model/us.cohere.embed-v4:0/invoke',
    '{"embeddings":{"float":[[0.5,1.5]]},"id":"c0ffee",'
    . '"response_type":"embeddings_by_type","texts":["a"]}')
--- request eval
"POST /v1/embeddings\n"
. '{"model":"cohere-v4","input":["a"],"dimensions":256}'
--- error_code: 200
--- response_headers_like
X-Request-Id: ^POST /mock/model/us.cohere.embed-v4%3A0/invoke .* body=\{"texts":\["a"\],"input_type":"search_document","output_dimension":256\}$
--- response_body chomp
{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,1.5]}],"model":"cohere-v4","usage":{"prompt_tokens":0,"total_tokens":0}}
--- no_error_log
[error]



=== TEST 11: Bedrock response_format json_schema: Converse's
outputConfig.textFormat, the schema as a JSON string
--- config eval
main::mock('/mock/model/us.amazon.nova-micro-v1:0/converse',
    '{"output":{"message":{"role":"assistant","content":[{"text":"{\"city\":\"Paris\"}"}]}},"stopReason":"end_turn","usage":{"inputTokens":9,"outputTokens":5,"totalTokens":14}}')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","messages":[{"role":"user","content":"Capital of France?"}],'
. '"response_format":{"type":"json_schema","json_schema":{"name":"city",'
. '"strict":true,"schema":{"type":"object","properties":{"city":'
. '{"type":"string"}},"required":["city"],"additionalProperties":false}}}}'
--- error_code: 200
--- response_headers_like
X-Request-Id: .* body=\{"messages":\[\{"role":"user","content":\[\{"text":"Capital of France\?"\}\]\}\],"inferenceConfig":\{\},"outputConfig":\{"textFormat":\{"type":"json_schema","structure":\{"jsonSchema":\{"schema":"\{\\"type\\":\\"object\\",\\"properties\\":\{\\"city\\":\{\\"type\\":\\"string\\"\}\},\\"required\\":\[\\"city\\"\],\\"additionalProperties\\":false\}","name":"city"\}\}\}\}\}$
--- response_body_like chomp
"content":"\{\\"city\\":\\"Paris\\"\}"
--- no_error_log
[error]



=== TEST 12: Bedrock response_format json_object: the schema of any object
--- config eval
main::mock('/mock/model/us.amazon.nova-micro-v1:0/converse',
    '{"output":{"message":{"role":"assistant","content":[{"text":"{}"}]}},"stopReason":"end_turn","usage":{"inputTokens":9,"outputTokens":1,"totalTokens":10}}')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","messages":[{"role":"user","content":"JSON please"}],'
. '"response_format":{"type":"json_object"}}'
--- error_code: 200
--- response_headers_like
X-Request-Id: .* body=.*,"outputConfig":\{"textFormat":\{"type":"json_schema","structure":\{"jsonSchema":\{"schema":"\{\\"type\\":\\"object\\"\}","name":"response"\}\}\}\}\}$
--- no_error_log
[error]



=== TEST 13: Bedrock documents: OpenAI file parts as Converse document
blocks, the name cleaned, the format from the media type
--- config eval
main::mock('/mock/model/us.amazon.nova-micro-v1:0/converse',
    '{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":9,"outputTokens":1,"totalTokens":10}}')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","messages":[{"role":"user","content":['
. '{"type":"text","text":"Summarize"},'
. '{"type":"file","file":{"filename":"Q3  report_v2.final.pdf",'
. '"file_data":"data:application/pdf;base64,JVBERi0x"}},'
. '{"type":"file","file":{"filename":"notes.md",'
. '"file_data":"data:text/markdown;base64,IyBoaQ=="}},'
. '{"type":"file","file":{"file_data":"JVBERi0y"}}]}]}'
--- error_code: 200
--- response_headers_like
X-Request-Id: .* body=\{"messages":\[\{"role":"user","content":\[\{"text":"Summarize"\},\{"document":\{"format":"pdf","name":"Q3 report-v2-final","source":\{"bytes":"JVBERi0x"\}\}\},\{"document":\{"format":"md","name":"notes","source":\{"bytes":"IyBoaQ=="\}\}\},\{"document":\{"format":"pdf","name":"document","source":\{"bytes":"JVBERi0y"\}\}\}\]\}\],.*
--- no_error_log
[error]



=== TEST 14: Bedrock documents: a type Converse does not read is a 400
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","messages":[{"role":"user","content":['
. '{"type":"file","file":{"filename":"a.zip",'
. '"file_data":"data:application/zip;base64,UEsDBA=="}}]}]}'
--- error_code: 400
--- response_body_like chomp
^\{"error":\{"message":"A document of type \\"application/zip\\" cannot be sent to this model: Bedrock takes pdf, csv, doc, docx, xls, xlsx, html, txt and md.","type":"invalid_request_error"
--- no_error_log
[error]



=== TEST 15: Bedrock documents: a document by URL (Anthropic client) is a
400 in Anthropic's format
--- request eval
"POST /v1/messages\n"
. '{"model":"nova","max_tokens":10,"messages":[{"role":"user","content":['
. '{"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"}}]}]}'
--- error_code: 400
--- response_body_like chomp
^\{"type":"error","error":\{"type":"invalid_request_error","message":"A document for this model must be sent as base64 data \(file_data\): Bedrock does not fetch URLs."\}
--- no_error_log
[error]



=== TEST 16: redacted_thinking in an Anthropic stream: to an Anthropic
client the block byte-exact, its own start and stop
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply($::AnthropicStream, 'text/event-stream')
--- request eval
"POST /v1/messages\n"
. '{"model":"claude","max_tokens":64,"stream":true,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- error_code: 200
--- response_body eval
main::ev('message_start', '{"type":"message_start","message":{"id":"msg_01R","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}')
. main::ev('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"' . $::Redacted . '"}}')
. main::ev('content_block_stop', '{"type":"content_block_stop","index":0}')
. main::ev('content_block_start', '{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}')
. main::ev('content_block_delta', '{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi."}}')
. main::ev('content_block_stop', '{"type":"content_block_stop","index":1}')
. main::ev('message_delta', '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}')
. main::ev('message_stop', '{"type":"message_stop"}')
--- no_error_log
[error]



=== TEST 17: redacted_thinking in an Anthropic stream: dropped for an
OpenAI client (chat chunks have no place for it), the text intact
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply($::AnthropicStream, 'text/event-stream')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}'
--- error_code: 200
--- response_body eval
'data: {"id":"msg_01R","object":"chat.completion.chunk","created":CREATED,"model":"claude","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"msg_01R","object":"chat.completion.chunk","created":CREATED,"model":"claude","choices":[{"index":0,"delta":{"content":"Hi."},"finish_reason":null}]}

data: {"id":"msg_01R","object":"chat.completion.chunk","created":CREATED,"model":"claude","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: [DONE]

'
--- response_body_filters eval
sub { $_[0] =~ s/"created":\d+/"created":CREATED/gr }
--- no_error_log
[error]



=== TEST 18: redactedContent in a Bedrock stream: a redacted_thinking
block for an Anthropic client
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply($::BedrockStream, 'application/vnd.amazon.eventstream')
--- request eval
"POST /v1/messages\n"
. '{"model":"nova-stream","max_tokens":64,"stream":true,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- error_code: 200
--- response_body_like eval
'^event: message_start\n.*\n\nevent: content_block_start\ndata: \{"type":"content_block_start","index":0,"content_block":\{"type":"redacted_thinking","data":"' . $::Redacted . '"\}\}\n\nevent: content_block_stop\ndata: \{"type":"content_block_stop","index":0\}\n\nevent: content_block_start\ndata: \{"type":"content_block_start","index":1,"content_block":\{"type":"text","text":""\}\}\n\nevent: content_block_delta\ndata: \{"type":"content_block_delta","index":1,"delta":\{"type":"text_delta","text":"Hi."\}\}\n\n'
--- no_error_log
[error]



=== TEST 19: Content-Encoding br to an Anthropic client: 502 in
Anthropic's format, logged once
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply("\x1b\x03\x00\xf8\xff", 'application/json', undef, "Content-Encoding: br\r\n")
--- request eval
"POST /v1/messages\n"
. '{"model":"claude","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
--- error_code: 502
--- response_body_like chomp
^\{"type":"error","error":\{"type":"api_error","message":"[^"]+"\}
--- grep_error_log eval: qr/upstream sent a compressed response \("br"\)/
--- grep_error_log_out
upstream sent a compressed response ("br")



=== TEST 20: Content-Encoding br to an OpenAI client's stream request:
502 JSON (no stream was started), logged once
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::reply("\x1b\x03\x00\xf8\xff", 'text/event-stream', undef, "Content-Encoding: br\r\n")
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}'
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"error":\{"message":"[^"]+","type":"[a-z_]+"
--- grep_error_log eval: qr/upstream sent a compressed response \("br"\)/
--- grep_error_log_out
upstream sent a compressed response ("br")



=== TEST 21: Bedrock reasoning, whole: block by block for an Anthropic
client (the signature kept, redactedContent a redacted_thinking block)
--- config eval
main::mock('/mock/model/us.amazon.nova-micro-v1:0/converse',
    '{"output":{"message":{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"Think.","signature":"c2lnLTE="}}},{"reasoningContent":{"redactedContent":"' . $::Redacted . '"}},{"text":"Hi."}]}},"stopReason":"end_turn","usage":{"inputTokens":9,"outputTokens":5,"totalTokens":14}}')
--- request eval
"POST /v1/messages\n"
. '{"model":"nova","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
--- error_code: 200
--- response_body_like chomp
^\{"id":"[^"]+","type":"message","role":"assistant","model":"nova","content":\[\{"type":"thinking","thinking":"Think.","signature":"c2lnLTE="\},\{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"\},\{"type":"text","text":"Hi."\}\],"stop_reason":"end_turn"
--- no_error_log
[error]



=== TEST 22: Bedrock reasoning, whole: the text as reasoning for an
OpenAI client, nothing of the redacted block
--- config eval
main::mock('/mock/model/us.amazon.nova-micro-v1:0/converse',
    '{"output":{"message":{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"Think.","signature":"c2lnLTE="}}},{"reasoningContent":{"redactedContent":"' . $::Redacted . '"}},{"text":"Hi."}]}},"stopReason":"end_turn","usage":{"inputTokens":9,"outputTokens":5,"totalTokens":14}}')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"nova","messages":[{"role":"user","content":"hi"}]}'
--- error_code: 200
--- response_body_like chomp
"message":\{"role":"assistant","content":"Hi.",(?!.*EmwKAhgB).*"Think\."
--- no_error_log
[error]



=== TEST 23: embeddings to an Anthropic model: 400, Anthropic has none
--- request eval
"POST /v1/embeddings\n"
. '{"model":"claude","input":"x"}'
--- error_code: 400
--- response_body_like chomp
^\{"error":\{"message":"The provider of this model has no embeddings endpoint.","type":"invalid_request_error"



=== TEST 24: embeddings fallback: Gemini fails (503), the OpenAI-format
fallback gets the client's body as it was (no canonical request)
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/gem/v1beta key=env:GEMINI_TEST_KEY;
    llm_provider oai type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/oai key=none;
    llm_route emb gemini:gemini-embedding-001 fallback=oai:text-embedding-3-small;
--- config
    location = /gem/v1beta/models/gemini-embedding-001:batchEmbedContents {
        return 503;
    }
    location = /oai/embeddings {
        default_type application/json;
        echo_read_request_body;
        add_header X-Request-Id $request_body;
        echo -n '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":1,"total_tokens":1}}';
    }
--- request eval
"POST /v1/embeddings\n"
. '{"model":"emb","input":"x","dimensions":1}'
--- error_code: 200
--- response_headers
X-Request-Id: {"model":"text-embedding-3-small","input":"x","dimensions":1}
--- response_body_like chomp
^\{"object":"list","data":\[\{"object":"embedding","index":0,"embedding":\[0.5\]\}\],"model":"text-embedding-3-small"
