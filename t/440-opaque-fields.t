# Opaque fields byte for byte across formats, for the Responses and the
# Gemini-native surfaces, with values recorded from the real APIs (read
# from t/fixtures at run time): Anthropic's thinking signature and
# redacted_thinking data, its tool_use ids, Gemini's thoughtSignature
# (carried in a Responses call_id as "__thought__" + base64url), OpenAI's
# tool call ids.  Each way: the provider's answer to the client (the
# values in the client's format), and the client's next turn to the
# provider (the values back where the provider wants them; the mocks
# show what they got in X-Request-Id).

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

our $J = JSON::PP->new->canonical;
our $Fixtures = 't/fixtures/derived/pydantic-ai';

sub fixture {
    my $path = shift;
    open my $fh, '<:raw', "$Fixtures/$path" or die "$path: $!";
    local $/;
    return <$fh>;
}

# Anthropic: a real signed thinking block and tool_use id; a real
# redacted_thinking payload
our $AntMsg = $J->decode(fixture(
    'test_anthropic/test_anthropic_tool_with_thinking/0.response.json'));
our ($Sig) = map { $_->{signature} } grep { $_->{type} eq 'thinking' }
             @{ $AntMsg->{content} };
our ($Toolu) = map { $_->{id} } grep { $_->{type} eq 'tool_use' }
               @{ $AntMsg->{content} };
our ($Redacted) = fixture('test_anthropic/'
    . 'test_anthropic_model_thinking_part_redacted_stream/0.response.sse')
    =~ /"type":"redacted_thinking","data":"([^"]+)"/;

# the Message the Anthropic mock answers: the recorded one plus a
# redacted_thinking block
our $AntReply = do {
    my %m = %$AntMsg;
    $m{content} = [ $AntMsg->{content}[0],
                    { type => 'redacted_thinking', data => $Redacted },
                    @{ $AntMsg->{content} }[1 .. $#{ $AntMsg->{content} }] ];
    $J->encode(\%m);
};

# Gemini: a real thoughtSignature on a functionCall
our ($Thought) = fixture('test_google/'
    . 'test_google_streaming_tool_call_thought_signature/0.response.sse')
    =~ /"thoughtSignature": *"([^"]+)"/;

our $GemReply = $J->encode({
    candidates => [{ content => { role => 'model', parts => [
        { functionCall => { name => 'get_country', args => {} },
          thoughtSignature => $Thought } ] },
        finishReason => 'STOP', index => 0 }],
    usageMetadata => { promptTokenCount => 29, candidatesTokenCount => 12,
                       totalTokenCount => 41 },
    modelVersion => 'gemini-2.5-flash', responseId => 'gem-1' });

our $OaiReply = '{"id":"chatcmpl-1","object":"chat.completion",'
    . '"created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":'
    . '"assistant","content":null,"tool_calls":[{"id":"call_pWx7MqJ2bZ6Ek0yT",'
    . '"type":"function","function":{"name":"get_country","arguments":"{}"}}]},'
    . '"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,'
    . '"completion_tokens":5,"total_tokens":10}}';

sub b64url {
    my $s = shift;
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# an echo mock answering "body", with the request body in X-Request-Id
sub mock {
    my ($uri, $body) = @_;

    $body =~ s/\\/\\\\/g;
    $body =~ s/'/\\'/g;

    return "    location = $uri {\n"
           . "        default_type application/json;\n"
           . "        echo_read_request_body;\n"
           . "        add_header X-Request-Id \$request_body;\n"
           . "        echo -n '$body';\n"
           . "    }\n";
}

sub has { return join('', map { '(?=.*' . quotemeta($_) . ')' } @_) . '.*' }

repeat_each(2);
no_long_string();
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_');
    llm_provider ant type=anthropic upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/ant key=none;
    llm_provider gem type=gemini upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/gem key=none;
    llm_provider oai type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/oai key=none;
    llm_route claude ant:claude-sonnet-4-20250514;
    llm_route gemini gem:gemini-2.5-flash;
    llm_route gpt oai:gpt-4o;
_EOC_

    $block->set_value('config', "    location /v1 {\n        llm_pass;\n"
                                . "    }\n" . ($block->config // ''));
});

run_tests();

__DATA__

=== TEST 1: Responses from Anthropic: the signature as encrypted_content,
redacted thinking as "redacted:" and its data, the tool_use id as call_id
--- config eval: ::mock('/ant/messages', $::AntReply)
--- request eval
"POST /v1/responses\n"
. '{"model":"claude","input":"Largest city in my country?",'
. '"tools":[{"type":"function","name":"get_user_country",'
. '"parameters":{"type":"object"}}]}'
--- response_body_like eval
'^\{"id":"resp_' . ::has(
    '"type":"reasoning","summary":[{"type":"summary_text","text":"The user',
    qq{"encrypted_content":"$::Sig"},
    qq{"encrypted_content":"redacted:$::Redacted"},
    qq{"type":"function_call",},
    qq{"call_id":"$::Toolu","name":"get_user_country","arguments":"{}"})
--- no_error_log
[error]



=== TEST 2: Responses to Anthropic: the next turn gives them back, signed
thinking, redacted_thinking and tool_use with its result, byte for byte
--- config eval: ::mock('/ant/messages', $::AntReply)
--- request eval
"POST /v1/responses\n" . $::J->encode({
    model => 'claude',
    input => [
        { role => 'user', content => 'Largest city in my country?' },
        { type => 'reasoning', id => 'rs_1', summary => [
            { type => 'summary_text', text => 'The user is asking.' } ],
          encrypted_content => $::Sig },
        { type => 'reasoning', id => 'rs_2', summary => [],
          encrypted_content => "redacted:$::Redacted" },
        { type => 'function_call', call_id => $::Toolu,
          name => 'get_user_country', arguments => '{}' },
        { type => 'function_call_output', call_id => $::Toolu,
          output => 'Mexico' } ],
    tools => [{ type => 'function', name => 'get_user_country',
                parameters => { type => 'object' } }] })
--- response_headers_like eval
'X-Request-Id: ' . ::has(
    qq{{"type":"thinking","thinking":"The user is asking.","signature":"$::Sig"}},
    qq{{"type":"redacted_thinking","data":"$::Redacted"}},
    qq{{"type":"tool_use","id":"$::Toolu","name":"get_user_country","input":{}}},
    qq{{"type":"tool_result","tool_use_id":"$::Toolu"})
--- no_error_log
[error]



=== TEST 3: Responses from Gemini: the thoughtSignature rides in the
call_id, base64url after "__thought__"
--- config eval: ::mock('/gem/models/gemini-2.5-flash:generateContent', $::GemReply)
--- request eval
"POST /v1/responses\n"
. '{"model":"gemini","input":"My country?","tools":[{"type":"function",'
. '"name":"get_country","parameters":{"type":"object"}}]}'
--- response_body_like eval
::has(qq{"call_id":"call_}) . '.*"call_id":"call_[A-Za-z0-9]{24}__thought__'
. quotemeta(::b64url($::Thought)) . '","name":"get_country"'
--- no_error_log
[error]



=== TEST 4: Responses to Gemini: that call_id gives Gemini its
thoughtSignature back, byte for byte
--- config eval: ::mock('/gem/models/gemini-2.5-flash:generateContent', $::GemReply)
--- request eval
my $id = 'call_abcdefghijklmnopqrstuvwx__thought__' . ::b64url($::Thought);
"POST /v1/responses\n" . $::J->encode({
    model => 'gemini',
    input => [
        { role => 'user', content => 'My country?' },
        { type => 'function_call', call_id => $id, name => 'get_country',
          arguments => '{}' },
        { type => 'function_call_output', call_id => $id,
          output => 'Mexico' } ] })
--- response_headers_like eval
'X-Request-Id: ' . ::has(
    qq{{"functionCall":{"name":"get_country","args":{}},"thoughtSignature":"$::Thought"}},
    qq{{"functionResponse":{"name":"get_country",})
--- no_error_log
[error]



=== TEST 5: Gemini-native from Anthropic: the signature as the thought
part's thoughtSignature, the tool_use id as functionCall.id
--- config eval: ::mock('/ant/messages', $::AntReply)
--- request
POST /v1beta/models/claude:generateContent
{"contents":[{"role":"user","parts":[{"text":"Largest city in my country?"}]}],"tools":[{"functionDeclarations":[{"name":"get_user_country"}]}]}
--- response_body_like eval
'^\{"candidates":' . ::has(
    '"thought":true,"thoughtSignature":"' . $::Sig . '"}',
    qq{{"functionCall":{"id":"$::Toolu","name":"get_user_country","args":{}}}})
--- no_error_log
[error]



=== TEST 6: Gemini-native to Anthropic: the thought part and the call
with its id go back as signed thinking and tool_use, the functionResponse
id as tool_use_id
--- config eval: ::mock('/ant/messages', $::AntReply)
--- request eval
"POST /v1beta/models/claude:generateContent\n" . $::J->encode({
    contents => [
        { role => 'user', parts => [{ text => 'Largest city?' }] },
        { role => 'model', parts => [
            { text => 'The user is asking.', thought => JSON::PP::true,
              thoughtSignature => $::Sig },
            { functionCall => { id => $::Toolu, name => 'get_user_country',
                                args => {} } } ] },
        { role => 'user', parts => [
            { functionResponse => { id => $::Toolu,
                                    name => 'get_user_country',
                                    response => { country => 'Mexico' } } }
        ] } ],
    tools => [{ functionDeclarations => [{ name => 'get_user_country' }] }] })
--- response_headers_like eval
'X-Request-Id: ' . ::has(
    qq{{"type":"thinking","thinking":"The user is asking.","signature":"$::Sig"}},
    qq{{"type":"tool_use","id":"$::Toolu","name":"get_user_country","input":{}}},
    qq{{"type":"tool_result","tool_use_id":"$::Toolu"})
--- no_error_log
[error]



=== TEST 7: Gemini-native from Gemini: the thoughtSignature of a
functionCall as it came
--- config eval: ::mock('/gem/models/gemini-2.5-flash:generateContent', $::GemReply)
--- request
POST /v1beta/models/gemini:generateContent
{"contents":[{"role":"user","parts":[{"text":"My country?"}]}]}
--- response_body_like eval
::has('"name":"get_country","args":{}},"thoughtSignature":"' . $::Thought . '"}')
--- no_error_log
[error]



=== TEST 8: Gemini-native to Gemini: the thoughtSignature goes out again
as it was
--- config eval: ::mock('/gem/models/gemini-2.5-flash:generateContent', $::GemReply)
--- request eval
"POST /v1beta/models/gemini:generateContent\n" . $::J->encode({
    contents => [
        { role => 'user', parts => [{ text => 'My country?' }] },
        { role => 'model', parts => [
            { functionCall => { name => 'get_country', args => {} },
              thoughtSignature => $::Thought } ] },
        { role => 'user', parts => [
            { functionResponse => { name => 'get_country',
                                    response => { c => 'MX' } } } ] } ] })
--- response_headers_like eval
'X-Request-Id: ' . ::has('{"functionCall":{"name":"get_country","args":{}},'
                         . '"thoughtSignature":"' . $::Thought . '"}')
--- no_error_log
[error]



=== TEST 9: Gemini-native from OpenAI: the tool call id as functionCall.id
--- config eval: ::mock('/oai/chat/completions', $::OaiReply)
--- request
POST /v1beta/models/gpt:generateContent
{"contents":[{"role":"user","parts":[{"text":"My country?"}]}]}
--- response_body_like eval
::has('{"functionCall":{"id":"call_pWx7MqJ2bZ6Ek0yT","name":"get_country","args":{}}}')
--- no_error_log
[error]



=== TEST 10: Gemini-native to OpenAI: functionCall.id and
functionResponse.id as the tool call's id and tool_call_id
--- config eval: ::mock('/oai/chat/completions', $::OaiReply)
--- request
POST /v1beta/models/gpt:generateContent
{"contents":[{"role":"user","parts":[{"text":"My country?"}]},{"role":"model","parts":[{"functionCall":{"id":"call_pWx7MqJ2bZ6Ek0yT","name":"get_country","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"id":"call_pWx7MqJ2bZ6Ek0yT","name":"get_country","response":{"c":"MX"}}}]}]}
--- response_headers_like eval
'X-Request-Id: ' . ::has(
    '"tool_calls":[{"id":"call_pWx7MqJ2bZ6Ek0yT","type":"function"',
    '"tool_call_id":"call_pWx7MqJ2bZ6Ek0yT"')
--- no_error_log
[error]
