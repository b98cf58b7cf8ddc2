# The Gemini adapter: OpenAI chat requests translated into Gemini
# GenerateContentRequest bodies (byte-exact, tcp_listen/tcp_query: the
# URL, the x-goog-api-key header, systemInstruction, contents, tools,
# tool results by name, generationConfig), recorded Gemini responses and
# "alt=sse" streams (t/fixtures, \r\n\r\n separators, echo_flush between
# events) translated into OpenAI responses and chunks, and Gemini errors
# into OpenAI errors with their status.

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too

use Cwd ();
use File::Basename ();

BEGIN {
    $ENV{TEST_NGINX_CERT_DIR} ||= Cwd::abs_path(
        File::Basename::dirname(__FILE__) . '/cert');
}

$ENV{GEMINI_TEST_KEY} = 'AIzaSy-CANARY-7c1e5d';

our $Fixtures = File::Basename::dirname(__FILE__) . '/fixtures';

our $Chat = '{"model":"gemini-2.5-flash","messages":'
            . '[{"role":"user","content":"hi"}]}';

our $Stream = '{"model":"gemini-2.0-flash-exp","stream":true,'
              . '"stream_options":{"include_usage":true},'
              . '"messages":[{"role":"user","content":"hi"}]}';

# a recorded file of t/fixtures, as it is
sub fixture {
    my $path = shift;

    open my $fh, '<:raw', "$Fixtures/$path" or die "$path: $!";
    local $/;
    return <$fh>;
}

# the request Gemini gets: request line, headers in the module's order,
# then the body
sub upreq {
    my ($path, $body, %o) = @_;

    return "POST /mock/v1beta/models/$path HTTP/1.1\r\n"
           . "Host: 127.0.0.1\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . 'Accept: ' . ($o{stream} ? 'text/event-stream'
                                      : 'application/json') . "\r\n"
           . "Accept-Encoding: identity\r\n"
           . "x-goog-api-key: $ENV{GEMINI_TEST_KEY}\r\n"
           . "\r\n$body";
}

# a JSON answer with a Content-Length
sub reply {
    my $body = shift;

    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

# nginx configuration text that sends "s" with the echo module, in
# pieces shorter than nginx's 4k token limit
sub echo_text {
    my $s = shift;
    my $conf = '';

    die "a \"\$\" would be a variable for echo" if $s =~ /\$/;

    while (length $s) {
        my $piece = substr($s, 0, 1024, '');

        $piece =~ s/\\/\\\\/g;
        $piece =~ s/'/\\'/g;
        $piece =~ s/\r/\\r/g;
        $piece =~ s/\n/\\n/g;

        $conf .= "        echo -n '$piece';\n";
    }

    return $conf;
}

# a mock Gemini location answering with a recorded JSON body
sub mock_json {
    my ($uri, $path, $status) = @_;

    return "    location = /mock/v1beta/models/$uri {\n"
           . "        default_type application/json;\n"
           . ($status ? "        echo_status $status;\n" : '')
           . echo_text(fixture($path))
           . "    }\n";
}

# a mock Gemini location replaying a recorded "alt=sse" stream, event by
# event, with a flush after each one
sub mock_sse {
    my ($uri, $sse) = @_;

    my $conf = "    location = /mock/v1beta/models/$uri {\n"
               . "        default_type text/event-stream;\n";

    for my $event (split /(?<=\r\n\r\n)/, $sse) {
        $conf .= echo_text($event) . "        echo_flush;\n";
    }

    return $conf . "    }\n";
}

# the base64url form of a thought signature, as it travels in tool ids
sub b64url {
    my $s = shift;

    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# a regular expression for the exact text "s", where CREATED stands for
# a timestamp and CALLID for a made-up tool call id
sub re {
    my $s = quotemeta shift;

    $s =~ s/CREATED/\\d+/g;
    $s =~ s/CALLID/call_[A-Za-z0-9]{24}/g;
    return $s;
}

# the OpenAI chat.completion the client gets, as a regular expression
sub completion {
    my (%o) = @_;

    my $msg = '{"role":"assistant","content":' . $o{content};
    $msg .= ',"reasoning_content":' . $o{reasoning} if defined $o{reasoning};
    $msg .= ',"tool_calls":[' . $o{tool_calls} . ']' if defined $o{tool_calls};
    $msg .= ',"refusal":null}';

    return '^' . re('{"id":"' . $o{id} . '","object":"chat.completion",'
                    . '"created":CREATED,"model":"' . $o{model} . '",'
                    . '"choices":[{"index":0,"message":' . $msg
                    . ',"logprobs":null,"finish_reason":"' . $o{finish}
                    . '"}],"usage":' . usage(@{$o{usage}}) . '}')
           . '\z';
}

sub usage {
    my ($p, $c, $t, $cached) = @_;

    return '{"prompt_tokens":' . $p . ',"completion_tokens":' . $c
           . ',"total_tokens":' . $t . ',"prompt_tokens_details":'
           . '{"cached_tokens":' . ($cached // 0) . '}}';
}

# one chat.completion.chunk event (regular expression text): a delta and
# a finish reason, or, with "usage", the usage-only chunk
sub chunk {
    my ($id, $model, $delta, $finish) = @_;

    my $choices = defined $delta
        ? '[{"index":0,"delta":' . $delta . ',"finish_reason":'
          . (defined $finish ? "\"$finish\"" : 'null') . '}]'
        : '[]';

    return re('data: {"id":"' . $id . '","object":"chat.completion.chunk",'
              . '"created":CREATED,"model":"' . $model . '","choices":'
              . $choices . "}\n\n");
}

sub usage_chunk {
    my ($id, $model, @usage) = @_;

    return re('data: {"id":"' . $id . '","object":"chat.completion.chunk",'
              . '"created":CREATED,"model":"' . $model . '","choices":[],'
              . '"usage":' . usage(@usage) . "}\n\n");
}

sub stream {
    return '^' . join('', @_) . re("data: [DONE]\n\n") . '\z';
}

repeat_each(2);
no_long_string();
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
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

=== TEST 1: request: the model in the URL, the key in x-goog-api-key
and nowhere else, systemInstruction, a user content, generationConfig
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"systemInstruction":{"parts":[{"text":"You are a helpful chatbot."}]},'
    . '"contents":[{"role":"user","parts":'
    . '[{"text":"What is the capital of France?"}]}],'
    . '"generationConfig":{"maxOutputTokens":100,"temperature":0.0}}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","messages":['
. '{"role":"system","content":"You are a helpful chatbot."},'
. '{"role":"user","content":"What is the capital of France?"}],'
. '"temperature":0.0,"max_tokens":100}'
--- response_body_like eval
main::completion(id => 'bzlXaa_EE_aHqtsPi_zw8Ao', model => 'gemini-2.5-flash',
    content => '"Hello! How can I help you today?"', finish => 'stop',
    usage => [9, 43, 52])
--- log_level: debug
--- no_error_log
[error]
AIzaSy-CANARY-7c1e5d



=== TEST 2: request: a stream goes to :streamGenerateContent?alt=sse;
system messages anywhere are joined in systemInstruction; consecutive
user messages are one content
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.0-flash-exp:streamGenerateContent?alt=sse',
    '{"systemInstruction":{"parts":[{"text":"Be brief."},'
    . '{"text":"Answer in French."}]},'
    . '"contents":[{"role":"user","parts":[{"text":"hi"},{"text":"there"}]},'
    . '{"role":"model","parts":[{"text":"Bonjour"}]},'
    . '{"role":"user","parts":[{"text":"again"}]}]}',
    stream => 1)
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
. "Connection: close\r\nContent-Length: "
. length(main::fixture('derived/pydantic-ai/test_google/test_google_model_stream/0.response.sse'))
. "\r\n\r\n"
. main::fixture('derived/pydantic-ai/test_google/test_google_model_stream/0.response.sse')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.0-flash-exp","stream":true,"messages":['
. '{"role":"system","content":"Be brief."},'
. '{"role":"user","content":"hi"},{"role":"user","content":"there"},'
. '{"role":"assistant","content":"Bonjour"},'
. '{"role":"developer","content":"Answer in French."},'
. '{"role":"user","content":"again"}]}'
--- response_body_like eval
'^' . main::re('data: {"id":"w1peaMz6INOvnvgPgYfPiQY"') . '.*'
. main::re("\n\ndata: [DONE]\n\n") . '\z'
--- no_error_log
[error]



=== TEST 3: request: tools as functionDeclarations with the JSON Schema
untouched, a named tool_choice, assistant tool calls as functionCall
parts, tool results by function name in one user content with the next
user text, a JSON object result as it is, text wrapped
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"contents":['
    . '{"role":"user","parts":[{"text":"Weather and time in Paris?"}]},'
    . '{"role":"model","parts":['
    .   '{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},'
    .   '{"functionCall":{"name":"get_time","args":{}}}]},'
    . '{"role":"user","parts":['
    .   '{"functionResponse":{"name":"get_time",'
    .     '"response":{"content":"12:00"}}},'
    .   '{"functionResponse":{"name":"get_weather",'
    .     '"response":{"temp": 18, "sky": "cloudy"}}},'
    .   '{"text":"Thanks!"}]}],'
    . '"tools":[{"functionDeclarations":['
    .   '{"name":"get_weather","description":"Current weather",'
    .    '"parametersJsonSchema":{"type":"object","properties":'
    .    '{"city":{"type":"string"}},"required":["city"],'
    .    '"additionalProperties":false}},'
    .   '{"name":"get_time"}]}],'
    . '"toolConfig":{"functionCallingConfig":{"mode":"ANY",'
    .   '"allowedFunctionNames":["get_weather"]}}}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","messages":['
. '{"role":"user","content":"Weather and time in Paris?"},'
. '{"role":"assistant","content":null,"tool_calls":['
.   '{"id":"call_w","type":"function","function":{"name":"get_weather",'
.     '"arguments":"{\"city\":\"Paris\"}"}},'
.   '{"id":"call_t","type":"function","function":{"name":"get_time",'
.     '"arguments":""}}]},'
. '{"role":"tool","tool_call_id":"call_t","content":"12:00"},'
. '{"role":"tool","tool_call_id":"call_w",'
.   '"content":"{\"temp\": 18, \"sky\": \"cloudy\"}"},'
. '{"role":"user","content":"Thanks!"}],'
. '"tools":['
.   '{"type":"function","function":{"name":"get_weather",'
.     '"description":"Current weather","parameters":{"type":"object",'
.     '"properties":{"city":{"type":"string"}},"required":["city"],'
.     '"additionalProperties":false}}},'
.   '{"type":"function","function":{"name":"get_time"}}],'
. '"tool_choice":{"type":"function","function":{"name":"get_weather"}}}'
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 4: request: tool_choice "required" is mode ANY; a tool call's
thought signature, carried in its id, goes back on the functionCall
part; a tool result in content parts is joined
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-3-pro-preview:generateContent',
    '{"contents":['
    . '{"role":"user","parts":[{"text":"Country?"}]},'
    . '{"role":"model","parts":[{"text":"Let me check."},'
    .   '{"functionCall":{"name":"get_country","args":{}},'
    .   '"thoughtSignature":"EpwI+/c="}]},'
    . '{"role":"user","parts":['
    .   '{"functionResponse":{"name":"get_country",'
    .     '"response":{"content":"Mexico, probably"}}}]}],'
    . '"tools":[{"functionDeclarations":[{"name":"get_country",'
    .   '"description":"The user\'s country"}]}],'
    . '"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-3-pro-preview","messages":['
. '{"role":"user","content":"Country?"},'
. '{"role":"assistant","content":"Let me check.","tool_calls":['
.   '{"id":"call_AAAAAAAAAAAAAAAAAAAAAAAA__thought__EpwI-_c",'
.    '"type":"function","function":{"name":"get_country",'
.    '"arguments":"{}"}}]},'
. '{"role":"tool","tool_call_id":'
.   '"call_AAAAAAAAAAAAAAAAAAAAAAAA__thought__EpwI-_c",'
.   '"content":[{"type":"text","text":"Mexico"},'
.   '{"type":"text","text":", probably"}]}],'
. '"tools":[{"type":"function","function":{"name":"get_country",'
.   '"description":"The user\'s country"}}],'
. '"tool_choice":"required"}'
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 5: request: tool_choice "none" and "auto"
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],'
    . '"tools":[{"functionDeclarations":[{"name":"f",'
    .   '"parametersJsonSchema":{"type":"object","properties":{}}}]}],'
    . '"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],'
. '"tools":[{"type":"function","function":{"name":"f",'
.   '"parameters":{"type":"object","properties":{}}}}],'
. '"tool_choice":"none"}'
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 6: request: tool_choice "auto"
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],'
    . '"tools":[{"functionDeclarations":[{"name":"f"}]}],'
    . '"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],'
. '"tools":[{"type":"function","function":{"name":"f"}}],'
. '"tool_choice":"auto"}'
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 7: request: images and audio: a data URL as inlineData, http(s)
URLs as fileData with the media type of their extension (or none)
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"contents":[{"role":"user","parts":['
    . '{"text":"What is in these?"},'
    . '{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},'
    . '{"fileData":{"mimeType":"image/jpeg",'
    .   '"fileUri":"https://example.com/cat.JPG?size=large"}},'
    . '{"fileData":{"fileUri":"https://example.com/image"}},'
    . '{"fileData":{"mimeType":"application/pdf",'
    .   '"fileUri":"https://example.com/a.b/paper.pdf#page=2"}},'
    . '{"inlineData":{"mimeType":"audio/wav","data":"UklGRg=="}}]}]}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","messages":[{"role":"user","content":['
. '{"type":"text","text":"What is in these?"},'
. '{"type":"image_url","image_url":'
.   '{"url":"data:image/png;base64,iVBORw0KGgo="}},'
. '{"type":"image_url","image_url":'
.   '{"url":"https://example.com/cat.JPG?size=large","detail":"low"}},'
. '{"type":"image_url","image_url":{"url":"https://example.com/image"}},'
. '{"type":"image_url","image_url":'
.   '{"url":"https://example.com/a.b/paper.pdf#page=2"}},'
. '{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}'
. ']}]}'
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 8: request: generationConfig: max_completion_tokens, top_p,
stop, n, seed, penalties, a JSON schema, reasoning_effort
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"contents":[{"role":"user","parts":[{"text":"City?"}]}],'
    . '"generationConfig":{"maxOutputTokens":2048,"temperature":0.7,'
    . '"topP":0.9,"stopSequences":["END","\n\n"],"candidateCount":2,'
    . '"seed":7,"presencePenalty":0.5,"frequencyPenalty":-0.25,'
    . '"responseMimeType":"application/json","responseJsonSchema":'
    . '{"type":"object","properties":{"city":{"type":"string"}},'
    . '"required":["city"]},'
    . '"thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}}}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"City?"}],'
. '"max_completion_tokens":2048,"temperature":0.7,"top_p":0.9,'
. '"stop":["END","\n\n"],"n":2,"seed":7,"presence_penalty":0.5,'
. '"frequency_penalty":-0.25,"reasoning_effort":"low",'
. '"response_format":{"type":"json_schema","json_schema":{"name":"city",'
. '"schema":{"type":"object","properties":{"city":{"type":"string"}},'
. '"required":["city"]}}}}'
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 9: request: json_object, reasoning_effort "high", a stop string
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"contents":[{"role":"user","parts":[{"text":"JSON please"}]}],'
    . '"generationConfig":{"stopSequences":["}"],'
    . '"responseMimeType":"application/json",'
    . '"thinkingConfig":{"thinkingBudget":24576,"includeThoughts":true}}}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","messages":'
. '[{"role":"user","content":"JSON please"}],"stop":"}",'
. '"reasoning_effort":"high","response_format":{"type":"json_object"}}'
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 10: request: a route's model with a "models/" prefix, other
bytes than [A-Za-z0-9._~-] percent-encoded in the path
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route flash gemini:models/gemini-2.5-flash;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"flash","messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
main::completion(id => 'bzlXaa_EE_aHqtsPi_zw8Ao', model => 'flash',
    content => '"Hello! How can I help you today?"', finish => 'stop',
    usage => [9, 43, 52])
--- no_error_log
[error]



=== TEST 11: request: percent-encoded model
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('my%20model%3Av2%25:generateContent',
    '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_model/0.response.json'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"my model:v2%","messages":[{"role":"user","content":"hi"}]}'
--- response_body_like: "finish_reason":"stop"
--- no_error_log
[error]



=== TEST 12: request: a model that could leave /models/ is refused
--- request eval
["POST /v1/chat/completions\n"
 . '{"model":"../files","messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/chat/completions\n"
 . '{"model":"a/b","messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/chat/completions\n"
 . '{"model":"a?key=x","messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/chat/completions\n"
 . '{"model":"a#b","messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/chat/completions\n"
 . '{"model":"a\nb","messages":[{"role":"user","content":"hi"}]}']
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body eval
[('{"error":{"message":"The model name has characters that cannot be sent to its provider.","type":"invalid_request_error","param":null,"code":"invalid_model"}}' . "\n") x 5]
--- error_log
llm: client sent a model name that cannot be used
--- no_error_log
[error]



=== TEST 13: response: text, usage with the thoughts as completion
tokens, the id from responseId
--- config eval
main::mock_json('gemini-2.5-flash:generateContent',
    'derived/pydantic-ai/test_google/test_google_model/0.response.json')
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers
Content-Type: application/json
X-LLM-Provider: gemini
X-LLM-Model: gemini-2.5-flash
--- response_body_like eval
main::completion(id => 'bzlXaa_EE_aHqtsPi_zw8Ao', model => 'gemini-2.5-flash',
    content => '"Hello! How can I help you today?"', finish => 'stop',
    usage => [9, 43, 52])
--- no_error_log
[error]



=== TEST 14: response: a function call: a tool call with a made-up id,
"{}" for no arguments, finish_reason tool_calls for Gemini's STOP
--- config eval
main::mock_json('gemini-2.0-flash:generateContent',
    'derived/pydantic-ai/test_google/test_google_tool_output/0.response.json')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.0-flash","messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
main::completion(id => 'LlteaIDvD9m7nvgPz5Sb0Aw', model => 'gemini-2.0-flash',
    content => 'null',
    tool_calls => '{"id":"CALLID","type":"function","function":'
                  . '{"name":"get_user_country","arguments":"{}"}}',
    finish => 'tool_calls', usage => [33, 5, 38])
--- no_error_log
[error]



=== TEST 15: response: pretty-printed args become compact arguments
--- config eval
main::mock_json('gemini-2.0-flash:generateContent',
    'derived/pydantic-ai/test_google/test_google_tool_output/1.response.json')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.0-flash","messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
main::completion(id => 'LlteaOzCOPOdnvgPrJbnoQg', model => 'gemini-2.0-flash',
    content => 'null',
    tool_calls => '{"id":"CALLID","type":"function","function":'
                  . '{"name":"final_result","arguments":'
                  . '"{\"city\":\"Mexico City\",\"country\":\"Mexico\"}"}}',
    finish => 'tool_calls', usage => [47, 8, 55])
--- no_error_log
[error]



=== TEST 16: response: a Gemini 3 function call: its thought signature
in the tool call id, in base64url after "__thought__"
--- config eval
main::mock_json('gemini-3-pro-preview:generateContent',
    'vercel-ai/packages/google/src/__fixtures__/google-tool-call-gemini3.json')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-3-pro-preview","messages":'
. '[{"role":"user","content":"Weather in San Francisco?"}]}'
--- response_body_like eval
main::completion(id => 'JniLacKqGqH0xs0P0O776As',
    model => 'gemini-3-pro-preview', content => 'null',
    tool_calls => '{"id":"CALLID__thought__'
                  . main::b64url('Eqo+Cqc+Ab4+9vtgONaaz6qwy6WXdp7gCd2w0X+Wz2gaBgY0Gv6A12JKo0y5vQwf9YQFyhMbKr1E9m17VT6HXd7jXzjaGYaE')
                  . '","type":"function","function":'
                  . '{"name":"weather","arguments":'
                  . '"{\"location\":\"San Francisco\"}"}}',
    finish => 'tool_calls', usage => [29, 1816, 1845])
--- no_error_log
[error]



=== TEST 17: response: MAX_TOKENS is "length"
--- config eval
main::mock_json('gemini-2.5-flash:generateContent',
    'derived/pydantic-ai/test_google/test_google_model_max_tokens/0.response.json')
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like eval
main::completion(id => 'R5MoavWNNp_8qtsP2fWD2A0', model => 'gemini-2.5-flash',
    content => '"The capital of France is"', finish => 'length',
    usage => [15, 5, 20])
--- no_error_log
[error]



=== TEST 18: response: a thinking model out of tokens, a candidate
without parts
--- config eval
main::mock_json('gemini-2.5-flash:generateContent',
    'derived/pydantic-ai/test_google/test_google_model_max_tokens_thinking_model_empty_response/0.response.json')
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"id":"fH8oaunbEbr9qtsPjYGX4A0",.*"finish_reason":"length"\}\],"usage":\{"prompt_tokens":15,"completion_tokens":2,"total_tokens":17,
--- no_error_log
[error]



=== TEST 19: response: SAFETY is "content_filter"
--- config eval
main::mock_json('gemini-2.5-flash:generateContent',
    'derived/pydantic-ai/test_google/test_google_model_safety_settings/0.response.json')
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"id":"5lpeaLOIBf__698Pv8HGgAg",.*"finish_reason":"content_filter"\}\],"usage":\{"prompt_tokens":14,"completion_tokens":0,"total_tokens":14,
--- no_error_log
[error]



=== TEST 20: response: a blocked prompt, no candidates: "content_filter"
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:generateContent {
        default_type application/json;
        return 200 '{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7},"modelVersion":"gemini-2.5-flash","responseId":"blocked1"}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"id":"blocked1",.*"finish_reason":"content_filter"\}\],"usage":\{"prompt_tokens":7,"completion_tokens":0,"total_tokens":7,
--- no_error_log
[error]



=== TEST 21: response: thought summaries as reasoning_content, text
parts joined, a cached token count
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:generateContent {
        default_type application/json;
        return 200 '{"candidates":[{"content":{"role":"model","parts":[{"text":"**Thinking**\\n","thought":true},{"text":"Hello","thoughtSignature":"c2ln"},{"text":", \\"world\\""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":3,"thoughtsTokenCount":12,"cachedContentTokenCount":16,"totalTokenCount":35},"modelVersion":"gemini-2.5-flash","responseId":"r1"}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like eval
main::completion(id => 'r1', model => 'gemini-2.5-flash',
    content => '"Hello, \"world\""', reasoning => '"**Thinking**\n"',
    finish => 'stop', usage => [20, 15, 35, 16])
--- no_error_log
[error]



=== TEST 22: response: not a Gemini response: 502
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:generateContent {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","choices":[]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- error_log
upstream sent invalid JSON in a 200 response



=== TEST 23: stream: text deltas, the finish when the stream ends with
finishReason, the last usage snapshot with include_usage, [DONE]
--- config eval
main::mock_sse('gemini-2.0-flash-exp:streamGenerateContent',
    main::fixture('derived/pydantic-ai/test_google/test_google_model_stream/0.response.sse'))
--- request eval
"POST /v1/chat/completions\n$::Stream"
--- response_headers
Content-Type: text/event-stream
--- response_body_like eval
my ($id, $m) = ('w1peaMz6INOvnvgPgYfPiQY', 'gemini-2.0-flash-exp');
main::stream(
    main::chunk($id, $m, '{"role":"assistant","content":""}'),
    main::chunk($id, $m, '{"content":"The"}'),
    main::chunk($id, $m, '{"content":" capital of France"}'),
    main::chunk($id, $m, '{"content":" is Paris.\n"}'),
    main::chunk($id, $m, '{}', 'stop'),
    main::usage_chunk($id, $m, 13, 8, 21))
--- no_error_log
[error]



=== TEST 24: stream: no usage chunk unless the client asks
--- config eval
main::mock_sse('gemini-2.0-flash-exp:streamGenerateContent',
    main::fixture('derived/pydantic-ai/test_google/test_google_model_stream/0.response.sse'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.0-flash-exp","stream":true,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
my ($id, $m) = ('w1peaMz6INOvnvgPgYfPiQY', 'gemini-2.0-flash-exp');
main::stream(
    main::chunk($id, $m, '{"role":"assistant","content":""}'),
    main::chunk($id, $m, '{"content":"The"}'),
    main::chunk($id, $m, '{"content":" capital of France"}'),
    main::chunk($id, $m, '{"content":" is Paris.\n"}'),
    main::chunk($id, $m, '{}', 'stop'))
--- no_error_log
[error]



=== TEST 25: stream: a Gemini 3 function call: one tool call delta with
the id (and its signature), one with the whole arguments, the empty
last part skipped, finish_reason tool_calls
--- config eval
main::mock_sse('gemini-3-pro-preview:streamGenerateContent',
    main::fixture('derived/pydantic-ai/test_google/test_google_streaming_tool_call_thought_signature/0.response.sse'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-3-pro-preview","stream":true,'
. '"stream_options":{"include_usage":true},'
. '"messages":[{"role":"user","content":"Capital of my country?"}]}'
--- response_body_like eval
my ($id, $m) = ('QUVVadTSNJ6_qtsPvN7J8Q0', 'gemini-3-pro-preview');
my $sig = main::fixture('derived/pydantic-ai/test_google/test_google_streaming_tool_call_thought_signature/0.response.sse') =~ /"thoughtSignature": "([^"]+)"/ ? $1 : die;
main::stream(
    main::chunk($id, $m, '{"role":"assistant","content":""}'),
    main::chunk($id, $m, '{"tool_calls":[{"index":0,"id":"CALLID__thought__'
                         . main::b64url($sig) . '","type":"function",'
                         . '"function":{"name":"get_country",'
                         . '"arguments":""}}]}'),
    main::chunk($id, $m, '{"tool_calls":[{"index":0,"function":'
                         . '{"arguments":"{}"}}]}'),
    main::chunk($id, $m, '{}', 'tool_calls'),
    main::usage_chunk($id, $m, 29, 212, 241))
--- no_error_log
[error]



=== TEST 26: stream: two function calls in one event are indexes 0 and
1; split events and byte-at-a-time pieces
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:streamGenerateContent {
        default_type text/event-stream;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"text": "Checking"}],"role": "model"},"index": 0}],"modelVersion": "gemini-2.5-flash","responseId": "p2"}\r\n\r\n';
        echo_flush;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "a","args": {"x": [1, 2]}}},{"functionCall": {"name": "b","args": {"s": "\\u00e9\\n"}}}],"role": "model"},';
        echo_flush;
        echo -n '"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 5,"candidatesTokenCount": 9,"totalTokenCount": 14},"modelVersion": "gemini-2.5-flash","responseId": "p2"}\r';
        echo_flush;
        echo -n '\n\r';
        echo_flush;
        echo -n '\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","stream":true,'
. '"stream_options":{"include_usage":true},'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
my ($id, $m) = ('p2', 'gemini-2.5-flash');
main::stream(
    main::chunk($id, $m, '{"role":"assistant","content":""}'),
    main::chunk($id, $m, '{"content":"Checking"}'),
    main::chunk($id, $m, '{"tool_calls":[{"index":0,"id":"CALLID",'
                         . '"type":"function","function":{"name":"a",'
                         . '"arguments":""}}]}'),
    main::chunk($id, $m, '{"tool_calls":[{"index":0,"function":'
                         . '{"arguments":"{\"x\":[1,2]}"}}]}'),
    main::chunk($id, $m, '{"tool_calls":[{"index":1,"id":"CALLID",'
                         . '"type":"function","function":{"name":"b",'
                         . '"arguments":""}}]}'),
    main::chunk($id, $m, '{"tool_calls":[{"index":1,"function":'
                         . '{"arguments":"{\"s\":\"\\\\u00e9\\\\n\"}"}}]}'),
    main::chunk($id, $m, '{}', 'tool_calls'),
    main::usage_chunk($id, $m, 5, 9, 14))
--- no_error_log
[error]



=== TEST 27: stream: thought summaries as reasoning_content deltas
--- config eval
main::mock_sse('gemini-2.5-flash:streamGenerateContent',
    main::fixture('derived/pydantic-ai/test_google/test_google_model_thinking_part_iter/0.response.sse'))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","stream":true,'
. '"messages":[{"role":"user","content":"How do I cross the street?"}]}'
--- response_body_like eval
my ($id, $m) = ('beHBaJfEMIi-qtsP3769-Q8', 'gemini-2.5-flash');
'^' . main::chunk($id, $m, '{"role":"assistant","content":""}')
. main::re('data: {"id":"' . $id . '","object":"chat.completion.chunk",'
           . '"created":CREATED,"model":"' . $m . '","choices":[{"index":0,'
           . '"delta":{"reasoning_content":"**Clarifying User Goals**\n\n')
. '[^\n]*\n\n(?:[^\n]*reasoning_content[^\n]*\n\n){3}'
. main::re('data: {"id":"' . $id . '","object":"chat.completion.chunk",'
           . '"created":CREATED,"model":"' . $m . '","choices":[{"index":0,'
           . '"delta":{"content":"This is a great question!')
. '[^\n]*\n\n(?:[^\n]*"content"[^\n]*\n\n)+'
. main::chunk($id, $m, '{}', 'stop') . main::re("data: [DONE]\n\n") . '\z'
--- no_error_log
[error]



=== TEST 28: stream: the body ends without a finishReason: "stop" and
the usage when it ends
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:streamGenerateContent {
        default_type text/event-stream;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 1,"totalTokenCount": 4},"responseId": "e1"}\r\n\r\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","stream":true,'
. '"stream_options":{"include_usage":true},'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
my ($id, $m) = ('e1', 'gemini-2.5-flash');
main::stream(
    main::chunk($id, $m, '{"role":"assistant","content":""}'),
    main::chunk($id, $m, '{"content":"Hi"}'),
    main::chunk($id, $m, '{}', 'stop'),
    main::usage_chunk($id, $m, 3, 1, 4))
--- no_error_log
[error]



=== TEST 29: stream: an error event ends the stream with an error
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:streamGenerateContent {
        default_type text/event-stream;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}],"responseId": "x1"}\r\n\r\n';
        echo_flush;
        echo -n 'data: {"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}\r\n\r\n';
        echo_flush;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"text": "lost"}],"role": "model"}}],"responseId": "x1"}\r\n\r\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","stream":true,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
'^' . main::chunk('x1', 'gemini-2.5-flash', '{"role":"assistant","content":""}')
. main::chunk('x1', 'gemini-2.5-flash', '{"content":"Hi"}')
. main::re('data: {"error":{"message":"The model is overloaded. Please try again later.","type":"server_error"')
. '[^\n]*\n\n\z'
--- error_log
llm: gemini provider "gemini" sent an error in the stream (503)



=== TEST 30: stream: an event that is not JSON ends the stream with an
error
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:streamGenerateContent {
        default_type text/event-stream;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}],"responseId": "x2"}\r\n\r\n';
        echo_flush;
        echo -n 'data: {"candidates": [\r\n\r\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","stream":true,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
'^' . main::chunk('x2', 'gemini-2.5-flash', '{"role":"assistant","content":""}')
. main::chunk('x2', 'gemini-2.5-flash', '{"content":"Hi"}')
. main::re('data: {"error":{"message":"The model provider sent an invalid stream event.","type":"api_error"')
. '[^\n]*\n\n\z'
--- error_log
llm: gemini provider "gemini" sent an invalid stream event



=== TEST 31: stream: with candidateCount 2, only candidate 0 is sent
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:streamGenerateContent {
        default_type text/event-stream;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"text": "A"}],"role": "model"}},{"content": {"parts": [{"text": "B"}],"role": "model"},"index": 1}],"responseId": "n2"}\r\n\r\n';
        echo_flush;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"},"finishReason": "STOP","index": 1}],"responseId": "n2"}\r\n\r\n';
        echo_flush;
        echo -n 'data: {"candidates": [{"content": {"parts": [{"text": "a"}],"role": "model"},"finishReason": "MAX_TOKENS","index": 0}],"responseId": "n2"}\r\n\r\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gemini-2.5-flash","stream":true,"n":2,'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_body_like eval
my ($id, $m) = ('n2', 'gemini-2.5-flash');
main::stream(
    main::chunk($id, $m, '{"role":"assistant","content":""}'),
    main::chunk($id, $m, '{"content":"A"}'),
    main::chunk($id, $m, '{"content":"a"}'),
    main::chunk($id, $m, '{}', 'length'))
--- no_error_log
[error]



=== TEST 32: Anthropic client: a Messages request with tool_use and
an error tool_result, thinking blocks left out, thinking.budget_tokens
as thinkingBudget
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('gemini-2.5-flash:generateContent',
    '{"systemInstruction":{"parts":[{"text":"Be brief."}]},'
    . '"contents":['
    . '{"role":"user","parts":[{"text":"Weather?"}]},'
    . '{"role":"model","parts":['
    .   '{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},'
    . '{"role":"user","parts":['
    .   '{"functionResponse":{"name":"get_weather",'
    .     '"response":{"error":"timeout"}}}]}],'
    . '"tools":[{"functionDeclarations":[{"name":"get_weather",'
    .   '"parametersJsonSchema":{"type":"object",'
    .   '"properties":{"city":{"type":"string"}}}}]}],'
    . '"generationConfig":{"maxOutputTokens":4096,'
    . '"thinkingConfig":{"thinkingBudget":2048,"includeThoughts":true}}}')
--- tcp_reply eval
main::reply(main::fixture(
    'derived/pydantic-ai/test_google/test_google_tool_output/1.response.json'))
--- request eval
"POST /v1/messages\n"
. '{"model":"gemini-2.5-flash","max_tokens":4096,"system":"Be brief.",'
. '"thinking":{"type":"enabled","budget_tokens":2048},'
. '"tools":[{"name":"get_weather","input_schema":{"type":"object",'
.   '"properties":{"city":{"type":"string"}}}}],'
. '"messages":[{"role":"user","content":"Weather?"},'
. '{"role":"assistant","content":['
.   '{"type":"thinking","thinking":"Use the tool.","signature":"c2ln"},'
.   '{"type":"tool_use","id":"toolu_01","name":"get_weather",'
.    '"input":{"city":"Paris"}}]},'
. '{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01",'
.   '"content":"timeout","is_error":true}]}]}'
--- response_body_like eval
'^' . main::re('{"id":"LlteaOzCOPOdnvgPrJbnoQg","type":"message",'
               . '"role":"assistant","model":"gemini-2.5-flash","content":'
               . '[{"type":"tool_use","id":"CALLID","name":"final_result",'
               . '"input":{"city":"Mexico City","country":"Mexico"}}],'
               . '"stop_reason":"tool_use",') . '.*"output_tokens":8\}\}\z'
--- no_error_log
[error]



=== TEST 33: Anthropic client: a Gemini 3 stream with a function call as
Anthropic events
--- config eval
main::mock_sse('gemini-3-pro-preview:streamGenerateContent',
    main::fixture('derived/pydantic-ai/test_google/test_google_streaming_tool_call_thought_signature/0.response.sse'))
--- request eval
"POST /v1/messages\n"
. '{"model":"gemini-3-pro-preview","max_tokens":100,"stream":true,'
. '"messages":[{"role":"user","content":"Capital of my country?"}]}'
--- response_body_like eval
'^' . main::re("event: message_start\ndata: {\"type\":\"message_start\","
               . "\"message\":{\"id\":\"QUVVadTSNJ6_qtsPvN7J8Q0\"")
. '.*' . main::re("\"content_block\":{\"type\":\"tool_use\",\"id\":\"CALLID__thought__")
. '.*' . main::re("\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}")
. '.*' . main::re("\"stop_reason\":\"tool_use\"")
. '.*' . main::re("\"output_tokens\":212}}\n\nevent: message_stop\n"
                  . "data: {\"type\":\"message_stop\"}\n\n") . '\z'
--- no_error_log
[error]



=== TEST 34: llm_next_upstream: after a 429 the next server gets the
same request, and its stream starts clean
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            default_type application/json;
            return 429 '{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}';
        }
    }

    upstream gemini {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
    }

    llm_provider gemini type=gemini upstream=gemini host=127.0.0.1
                 base=/mock/v1beta key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream error http_429 non_idempotent;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_query eval
main::upreq('gemini-2.0-flash-exp:streamGenerateContent?alt=sse',
    '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}',
    stream => 1)
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
. "Connection: close\r\nContent-Length: "
. length(main::fixture('derived/pydantic-ai/test_google/test_google_model_stream/0.response.sse'))
. "\r\n\r\n"
. main::fixture('derived/pydantic-ai/test_google/test_google_model_stream/0.response.sse')
--- request eval
"POST /v1/chat/completions\n$::Stream"
--- response_body_like eval
my ($id, $m) = ('w1peaMz6INOvnvgPgYfPiQY', 'gemini-2.0-flash-exp');
main::stream(
    main::chunk($id, $m, '{"role":"assistant","content":""}'),
    main::chunk($id, $m, '{"content":"The"}'),
    main::chunk($id, $m, '{"content":" capital of France"}'),
    main::chunk($id, $m, '{"content":" is Paris.\n"}'),
    main::chunk($id, $m, '{}', 'stop'),
    main::usage_chunk($id, $m, 13, 8, 21))



=== TEST 35: error: 429 RESOURCE_EXHAUSTED: 429 rate_limit_error, the
status as the code
--- config eval
main::mock_json('gemini-2.5-flash:generateContent',
    'vercel-ai/packages/google/src/__fixtures__/google-429-retry-info.json', 429)
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 429
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"You exceeded your current quota, please check your plan.","type":"rate_limit_error","param":null,"code":"RESOURCE_EXHAUSTED"}}



=== TEST 36: error: 400 INVALID_ARGUMENT
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:generateContent {
        default_type application/json;
        return 400 '{\n  "error": {\n    "code": 400,\n    "message": "Invalid JSON payload received. Unknown name \\"foo\\": Cannot find field.",\n    "status": "INVALID_ARGUMENT"\n  }\n}\n';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 400
--- response_body
{"error":{"message":"Invalid JSON payload received. Unknown name \"foo\": Cannot find field.","type":"invalid_request_error","param":null,"code":"INVALID_ARGUMENT"}}



=== TEST 37: error: 404 NOT_FOUND: model_not_found
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:generateContent {
        default_type application/json;
        return 404 '{"error": {"code": 404, "message": "models/gemini-2.5-flash is not found for API version v1beta, or is not supported for generateContent.", "status": "NOT_FOUND"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 404
--- response_body
{"error":{"message":"models/gemini-2.5-flash is not found for API version v1beta, or is not supported for generateContent.","type":"invalid_request_error","param":null,"code":"model_not_found"}}



=== TEST 38: error: 500 INTERNAL and, on a stream, 503 UNAVAILABLE
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:generateContent {
        default_type application/json;
        return 500 '{"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}';
    }
    location = /mock/v1beta/models/gemini-2.5-flash:streamGenerateContent {
        default_type application/json;
        return 503 '[{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]';
    }
--- request eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n"
 . '{"model":"gemini-2.5-flash","stream":true,'
 . '"messages":[{"role":"user","content":"hi"}]}']
--- error_code eval
[500, 503]
--- response_body eval
['{"error":{"message":"An internal error has occurred.","type":"server_error","param":null,"code":"INTERNAL"}}' . "\n",
 '{"error":{"message":"The model is overloaded.","type":"server_error","param":null,"code":"UNAVAILABLE"}}' . "\n"]



=== TEST 39: error: a key Gemini refuses (400 API_KEY_INVALID) is the
gateway's problem: no message of the provider's
--- config
    location = /mock/v1beta/models/gemini-2.5-flash:generateContent {
        default_type application/json;
        return 400 '{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 400
--- response_body
{"error":{"message":"The model provider rejected the gateway's credentials.","type":"api_error","param":null,"code":"upstream_auth_error"}}
--- error_log
llm provider "gemini" rejected the configured key



=== TEST 40: the preset: with "tls", Host and SNI are
generativelanguage.googleapis.com; the key only in its header, and
redacted from an error message that quotes it
--- canary_ok
the mock's own debug lines hold the key it received
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name generativelanguage.googleapis.com;

        ssl_certificate $TEST_NGINX_CERT_DIR/server.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;

        location / {
            default_type application/json;
            return 400 '{"error":{"code":400,"message":"$request_uri host=$host sni=$ssl_server_name key=$http_x_goog_api_key","status":"FAILED_PRECONDITION"}}';
        }
    }

    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls key=env:GEMINI_TEST_KEY;
    llm_route default gemini;
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_verify off;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 400
--- response_body
{"error":{"message":"/v1beta/models/gemini-2.5-flash:generateContent host=generativelanguage.googleapis.com sni=generativelanguage.googleapis.com key=[redacted]","type":"invalid_request_error","param":null,"code":"FAILED_PRECONDITION"}}
--- error_log
llm provider "gemini" quoted the configured key in its error message: redacted



=== TEST 41: the preset needs a key
--- http_config
    llm_provider gemini type=gemini upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_route default gemini;
--- request
GET /t
--- must_die
--- suppress_stderr: 1
--- error_log
[emerg]
llm_provider "gemini" of type "gemini" needs "key=env:NAME", "key=file:PATH" or "key=none"
