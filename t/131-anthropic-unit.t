# The Anthropic Messages surface outside nginx (t/unit/anthropic_surface.c,
# built by "make unit"): requests into the canonical request, canonical
# responses and deltas into Anthropic JSON and SSE, and every recorded
# OpenAI chat stream in t/fixtures through the stream writer, whose
# events must follow Anthropic's grammar and carry the same content.

use strict;
use warnings;

use Test::More;
use File::Find;
use File::Temp qw(tempfile);
use JSON::PP;

my $bin = ($ENV{LLM_UNIT_DIR} || 'build/unit') . '/anthropic_surface';

plan skip_all => "$bin is not built (make unit)" unless -x $bin;

my $json = JSON::PP->new->canonical;

sub run {
    my ($mode, $input) = @_;

    my ($fh, $name) = tempfile(UNLINK => 1);
    binmode $fh;
    print $fh $input;
    close $fh;

    my $out = `$bin $mode < $name 2>&1`;
    return ($out, $? >> 8);
}

sub ids {
    my $s = shift;
    $s =~ s/\b(msg|toolu)_[0-9A-Za-z]{24}\b/$1_RANDOM/g;
    return $s;
}


# -- requests ---------------------------------------------------------------

my @requests = (

['string system, string content',
'{"model":"claude-x","max_tokens":100,"system":"Be terse.",
  "messages":[{"role":"user","content":"hi"}]}',
'model=claude-x max_tokens=100 stream=0 include_usage=1
system
  text text="Be terse."
user
  text text="hi"
'],

['system blocks: one system message, first',
'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"a"}],
  "system":[{"type":"text","text":"one"},
            {"type":"text","text":"two","cache_control":{"type":"ephemeral"}}]}',
'model=m max_tokens=1 stream=0 include_usage=1
system
  text text="one"
  text text="two"
user
  text text="a"
'],

['empty system string: no system message',
'{"model":"m","max_tokens":1,"system":"","messages":[{"role":"user","content":"a"}]}',
'model=m max_tokens=1 stream=0 include_usage=1
user
  text text="a"
'],

['images, documents, escapes',
'{"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":[
  {"type":"text","text":"look \u00e9 \"q\"\n"},
  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0K"}},
  {"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}},
  {"type":"document","title":"report","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}},
  {"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"}},
  {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain doc"}},
  {"type":"document","source":{"type":"content","content":[{"type":"text","text":"c1"}]}}]}]}',
"model=m max_tokens=8 stream=1 include_usage=1
user
  text text=\"look \xc3\xa9 \"q\"\n\"
  image media_type=\"image/png\" data=\"iVBORw0K\"
  image url=\"https://example.com/a.jpg\"
  file media_type=\"application/pdf\" data=\"JVBERi0x\" name=\"report\"
  file url=\"https://example.com/a.pdf\" media_type=\"application/pdf\"
  text text=\"plain doc\"
  text text=\"c1\"
"],

['tool use and results: tool messages first, images after them',
'{"model":"m","max_tokens":50,"messages":[
  {"role":"user","content":"weather?"},
  {"role":"assistant","content":[
    {"type":"thinking","thinking":"need a tool","signature":"EqQBCkYIBxgCKkAK"},
    {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"},
    {"type":"text","text":"Checking."},
    {"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city": "Paris", "n":[1,2]}},
    {"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}]},
  {"role":"user","content":[
    {"type":"tool_result","tool_use_id":"toolu_01","content":[
      {"type":"text","text":"18C"},{"type":"text","text":"sunny"},
      {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}}]},
    {"type":"tool_result","tool_use_id":"toolu_02","content":"timeout","is_error":true},
    {"type":"text","text":"and tomorrow?"}]},
  {"role":"assistant","content":[{"type":"tool_use","id":"toolu_03","name":"noop"}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_03"}]}]}',
'model=m max_tokens=50 stream=0 include_usage=1
user
  text text="weather?"
assistant
  thinking text="need a tool" signature="EqQBCkYIBxgCKkAK"
  redacted data="EmwKAhgBEgy3va3pzix"
  text text="Checking."
  tool_call id="toolu_01" name="get_weather" arguments={"city": "Paris", "n":[1,2]}
  tool_call id="toolu_02" name="get_time" arguments={}
tool id="toolu_01"
  text text="18C
sunny"
tool id="toolu_02" is_error
  text text="timeout"
user
  image media_type="image/jpeg" data="/9j/"
  text text="and tomorrow?"
assistant
  tool_call id="toolu_03" name="noop" arguments={}
tool id="toolu_03"
  text text=""
'],

['tools, tool_choice, sampling, stop, metadata, thinking',
'{"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"x"}],
  "tools":[{"name":"get_weather","description":"Weather now",
            "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
           {"type":"web_search_20250305","name":"web_search","max_uses":3},
           {"name":"noargs","input_schema":{"type":"object"}}],
  "tool_choice":{"type":"any","disable_parallel_tool_use":true},
  "temperature":0.7,"top_p":0.95,"top_k":40,
  "stop_sequences":["END","\n\nHuman:"],
  "metadata":{"user_id":"user-42"},
  "thinking":{"type":"enabled","budget_tokens":3000}}',
'model=m max_tokens=4096 stream=0 include_usage=1
user
  text text="x"
tool name="get_weather" description="Weather now" parameters={"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}
tool name="noargs" parameters={"type":"object"}
tool_choice=any
parallel_tool_calls=0
temperature=0.7
top_p=0.95
top_k=40
stop sequence="END"
stop sequence="

Human:"
user=user-42
thinking_budget=3000 reasoning_effort=high
'],

['tool_choice tool, auto, none; thinking budgets',
'{"model":"m","max_tokens":1,"messages":[],"tool_choice":{"type":"tool","name":"get_weather"},
  "thinking":{"type":"enabled","budget_tokens":1024}}',
'model=m max_tokens=1 stream=0 include_usage=1
tool_choice=named name="get_weather"
thinking_budget=1024 reasoning_effort=low
'],

['tool_choice auto with parallel use allowed',
'{"model":"m","max_tokens":1,"messages":[],"tool_choice":{"type":"auto","disable_parallel_tool_use":false},
  "thinking":{"type":"disabled"}}',
'model=m max_tokens=1 stream=0 include_usage=1
tool_choice=auto
'],

['tool_choice none',
'{"model":"m","max_tokens":1,"messages":[],"tool_choice":{"type":"none"},
  "thinking":{"type":"enabled","budget_tokens":2048}}',
'model=m max_tokens=1 stream=0 include_usage=1
tool_choice=none
thinking_budget=2048 reasoning_effort=medium
'],

['max_tokens missing', '{"model":"m","messages":[]}',
"declined: max_tokens: Field required\n"],

['max_tokens null', '{"model":"m","max_tokens":null,"messages":[]}',
"declined: max_tokens: Field required\n"],

['max_tokens a string', '{"model":"m","max_tokens":"10","messages":[]}',
"declined: max_tokens: Input should be a valid integer\n"],

['role system in messages',
'{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}',
"declined: messages.0.role: Input should be 'user' or 'assistant'\n"],

['no content',
'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"},{"role":"user"}]}',
"declined: messages.1.content: Field required\n"],

['content a number',
'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":5}]}',
"declined: messages.0.content: Input should be a valid string or list\n"],

['tool_use in a user message',
'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}]}',
"declined: messages.0.content.0: tool_use blocks are only allowed in assistant messages\n"],

['tool_result in an assistant message',
'{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"a"}]}]}',
"declined: messages.0.content.0: tool_result blocks are only allowed in user messages\n"],

['image by file id',
'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image","source":{"type":"file","file_id":"file_1"}}]}]}',
"declined: messages.0.content.1.source: the source type \"file\" is not supported for this model's provider\n"],

['bad tool_choice',
'{"model":"m","max_tokens":1,"messages":[],"tool_choice":{"type":"required"}}',
"declined: tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'\n"],

['temperature a string',
'{"model":"m","max_tokens":1,"messages":[],"temperature":"hot"}',
"declined: temperature: Input should be a valid number\n"],

['stop_sequences a string',
'{"model":"m","max_tokens":1,"messages":[],"stop_sequences":"END"}',
"declined: stop_sequences: Input should be a valid list\n"],

['unknown blocks are skipped',
'{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[
  {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},
  {"type":"text","text":"done"}]}]}',
'model=m max_tokens=1 stream=0 include_usage=1
assistant
  text text="done"
'],

);

for my $t (@requests) {
    my ($name, $in, $expect) = @$t;
    my ($out, $rc) = run('request', $in);
    is($out, $expect, "request: $name");
}


# -- responses --------------------------------------------------------------

my @responses = (

['text, usage minus cached',
"id chatcmpl-1\ntext Hello \"world\"\\nbye\nfinish stop\nusage 120 15 100\n",
'{"id":"chatcmpl-1","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"Hello \"world\"\nbye"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":15}}
ctx usage 120 15 100
'],

['thinking first, then text, then tool calls',
"text Let me check.\nthinking sig1 I should\\ncall it\nredacted opaque==\ntool call_1 get_weather {\"city\": \"Paris\"}\nfinish tool_calls\nusage 10 5 0\n",
'{"id":"msg_RANDOM","type":"message","role":"assistant","model":"claude-test","content":[{"type":"thinking","thinking":"I should\ncall it","signature":"sig1"},{"type":"redacted_thinking","data":"opaque=="},{"type":"text","text":"Let me check."},{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city": "Paris"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}}
ctx usage 10 5 0
'],

['reasoning text without blocks',
"reasoning hmm\ntext 42\nfinish length\n",
'{"id":"msg_RANDOM","type":"message","role":"assistant","model":"claude-test","content":[{"type":"thinking","thinking":"hmm","signature":""},{"type":"text","text":"42"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}
'],

['tool arguments empty, invalid, not an object; no id',
"tool - a \ntool call_2 b {\"x\":\ntool call_3 c [1]\nfinish stop\n",
'{"id":"msg_RANDOM","type":"message","role":"assistant","model":"claude-test","content":[{"type":"tool_use","id":"toolu_RANDOM","name":"a","input":{}},{"type":"tool_use","id":"call_2","name":"b","input":{}},{"type":"tool_use","id":"call_3","name":"c","input":{}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}
'],

['content filter: refusal',
"text partial\nfinish content_filter\n",
'{"id":"msg_RANDOM","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"partial"}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}
'],

['an OpenAI refusal is the text',
"refusal I can't help with that.\nfinish stop\n",
'{"id":"msg_RANDOM","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"I can\'t help with that."}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}
'],

['nothing at all, no finish',
"",
'{"id":"msg_RANDOM","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}
'],

);

for my $t (@responses) {
    my ($name, $in, $expect) = @$t;
    my ($out, $rc) = run('response', $in);
    is(ids($out), $expect, "response: $name");

    my ($first) = split /\n/, $out;
    ok(eval { decode_json($first); 1 }, "response: $name: valid JSON")
        or diag($@);
}


# -- deltas -------------------------------------------------------------------

sub ev {
    my ($name, $data) = @_;
    return "event: $name\ndata: $data\n\n";
}

my $start = ev('message_start', '{"type":"message_start","message":{"id":"chatcmpl-1","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}');
my $start_r = ev('message_start', '{"type":"message_start","message":{"id":"msg_RANDOM","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}');
my $stop = ev('message_stop', '{"type":"message_stop"}');

sub bstart_text { ev('content_block_start', qq({"type":"content_block_start","index":$_[0],"content_block":{"type":"text","text":""}})) }
sub bstart_think { ev('content_block_start', qq({"type":"content_block_start","index":$_[0],"content_block":{"type":"thinking","thinking":"","signature":""}})) }
sub bstart_tool { ev('content_block_start', qq({"type":"content_block_start","index":$_[0],"content_block":{"type":"tool_use","id":"$_[1]","name":"$_[2]","input":{}}})) }
sub text_d { ev('content_block_delta', qq({"type":"content_block_delta","index":$_[0],"delta":{"type":"text_delta","text":"$_[1]"}})) }
sub think_d { ev('content_block_delta', qq({"type":"content_block_delta","index":$_[0],"delta":{"type":"thinking_delta","thinking":"$_[1]"}})) }
sub sig_d { ev('content_block_delta', qq({"type":"content_block_delta","index":$_[0],"delta":{"type":"signature_delta","signature":"$_[1]"}})) }
sub json_d { ev('content_block_delta', qq({"type":"content_block_delta","index":$_[0],"delta":{"type":"input_json_delta","partial_json":"$_[1]"}})) }
sub bstop { ev('content_block_stop', qq({"type":"content_block_stop","index":$_[0]})) }
sub mdelta { ev('message_delta', qq({"type":"message_delta","delta":{"stop_reason":"$_[0]","stop_sequence":null},"usage":{"input_tokens":$_[1],"cache_creation_input_tokens":0,"cache_read_input_tokens":$_[2],"output_tokens":$_[3]}})) }

my @deltas = (

['text, finish, then the usage chunk (OpenAI)',
"START chatcmpl-1\nTEXT \nTEXT Hel\nTEXT lo\nFINISH stop\nUSAGE 12 2 0\nDONE\n",
$start . bstart_text(0) . text_d(0, 'Hel') . text_d(0, 'lo') . bstop(0)
. mdelta('end_turn', 12, 0, 2) . $stop],

['usage in the finish chunk (Groq, Mistral, DeepSeek)',
"START chatcmpl-1\nTEXT a\nUSAGE 30 4 10\nFINISH length\nDONE\n",
$start . bstart_text(0) . text_d(0, 'a') . bstop(0)
. mdelta('max_tokens', 20, 10, 4) . $stop],

['no usage: closed at [DONE]',
"START chatcmpl-1\nTEXT a\nFINISH stop\nDONE\n",
$start . bstart_text(0) . text_d(0, 'a') . bstop(0)
. mdelta('end_turn', 0, 0, 0) . $stop],

['finish twice (OpenRouter): message_stop once',
"START chatcmpl-1\nTEXT a\nFINISH stop\nFINISH stop\nUSAGE 5 1 0\nUSAGE 5 1 0\nDONE\nDONE\n",
$start . bstart_text(0) . text_d(0, 'a') . bstop(0)
. mdelta('end_turn', 5, 0, 1) . $stop],

['no finish, no [DONE]: end_turn at the end of the stream',
"START chatcmpl-1\nTEXT a\nDONE\n",
$start . bstart_text(0) . text_d(0, 'a') . bstop(0)
. mdelta('end_turn', 0, 0, 0) . $stop],

['reasoning, signature, text, two tool calls',
"START chatcmpl-1\nREASONING Let me\nREASONING  think\nSIGNATURE c2ln\nTEXT Sure.\n"
. "TOOL_START 0 call_1 get_weather\nTOOL_ARGS 0 \nTOOL_ARGS 0 {\"city\":\nTOOL_ARGS 0 \"Paris\"}\n"
. "TOOL_START 1 call_2 get_time\nTOOL_ARGS 1 {}\nFINISH tool_calls\nUSAGE 100 50 0\nDONE\n",
$start . bstart_think(0) . think_d(0, 'Let me') . think_d(0, ' think')
. sig_d(0, 'c2ln') . bstop(0)
. bstart_text(1) . text_d(1, 'Sure.') . bstop(1)
. bstart_tool(2, 'call_1', 'get_weather') . json_d(2, '{\"city\":')
. json_d(2, '\"Paris\"}') . bstop(2)
. bstart_tool(3, 'call_2', 'get_time') . json_d(3, '{}') . bstop(3)
. mdelta('tool_use', 100, 0, 50) . $stop],

['tool calls with finish "stop": tool_use',
"START chatcmpl-1\nTOOL_START 0 call_1 f\nTOOL_ARGS 0 {}\nFINISH stop\nDONE\n",
$start . bstart_tool(0, 'call_1', 'f') . json_d(0, '{}') . bstop(0)
. mdelta('tool_use', 0, 0, 0) . $stop],

['interleaved arguments of parallel calls go to their blocks',
"START chatcmpl-1\nTOOL_START 0 call_1 f\nTOOL_START 1 call_2 g\nTOOL_ARGS 0 {}\nTOOL_ARGS 1 {}\nFINISH tool_calls\nDONE\n",
$start . bstart_tool(0, 'call_1', 'f') . bstop(0)
. bstart_tool(1, 'call_2', 'g') . json_d(0, '{}') . json_d(1, '{}') . bstop(1)
. mdelta('tool_use', 0, 0, 0) . $stop],

['arguments without a start: a block with a made-up id',
"TOOL_ARGS 0 {\"a\":1}\nFINISH tool_calls\nDONE\n",
$start_r . bstart_tool(0, 'toolu_RANDOM', '') . json_d(0, '{\"a\":1}') . bstop(0)
. mdelta('tool_use', 0, 0, 0) . $stop],

['text after a tool call opens a new block',
"START chatcmpl-1\nTOOL_START 0 call_1 f\nTEXT x\nFINISH content_filter\nDONE\n",
$start . bstart_tool(0, 'call_1', 'f') . bstop(0) . bstart_text(1) . text_d(1, 'x')
. bstop(1) . mdelta('refusal', 0, 0, 0) . $stop],

['content after the finish is dropped',
"START chatcmpl-1\nTEXT a\nFINISH stop\nTEXT b\nTOOL_START 0 c f\nUSAGE 1 1 0\n",
$start . bstart_text(0) . text_d(0, 'a') . bstop(0)
. mdelta('end_turn', 1, 0, 1) . $stop],

['error mid-stream: event error, nothing after',
"START chatcmpl-1\nTEXT a\nERROR 0 server_error The server had an error\nTEXT b\nFINISH stop\nDONE\n",
$start . bstart_text(0) . text_d(0, 'a')
. ev('error', '{"type":"error","error":{"type":"api_error","message":"The server had an error"}}')],

['error with a status, before anything',
"ERROR 529 - Overloaded\nDONE\n",
ev('error', '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')],

['error with an Anthropic type, no message',
"ERROR 0 rate_limit_error \n",
ev('error', '{"type":"error","error":{"type":"rate_limit_error","message":"The model provider returned an error."}}')],

['escapes in text',
"START chatcmpl-1\nTEXT a\"b\\c\\nd\tz\x01\n",
$start . bstart_text(0) . text_d(0, 'a\"b\\\\c\nd\tz\u0001')],

['nothing but [DONE]',
"DONE\n",
$start_r . mdelta('end_turn', 0, 0, 0) . $stop],

);

for my $t (@deltas) {
    my ($name, $in, $expect) = @$t;
    my ($out, $rc) = run('deltas', $in);
    is(ids($out), $expect, "deltas: $name");
}


# -- recorded OpenAI chat streams ------------------------------------------

# the events of an Anthropic stream, checked against the grammar

sub check_stream {
    my ($out) = @_;

    my (@ev, %s);

    $s{text} = '';
    $s{thinking} = '';
    $s{signature} = '';
    $s{tools} = [];

    return "does not end with an empty line" unless $out =~ /\n\n\z/;

    for my $e (split /\n\n/, $out) {
        $e =~ /\Aevent: (\w+)\ndata: (.*)\z/s
            or return "bad event: $e";
        my ($name, $data) = ($1, $2);
        my $d = eval { decode_json($data) } or return "bad JSON: $data";
        $d->{type} eq $name or return "type $d->{type} in event $name";
        push @ev, [$name, $d];
    }

    return "no events" unless @ev;

    my $first = $ev[0][0];
    my $last = $ev[-1][0];

    return "first event is $first" unless $first eq 'message_start'
                                          || $first eq 'error';
    return "last event is $last" unless $last eq 'message_stop'
                                        || $last eq 'error';

    my ($open, $next, %type, %closed, $mdelta) = (undef, 0);

    for my $i (0 .. $#ev) {
        my ($name, $d) = @{$ev[$i]};

        if ($name eq 'message_start') {
            return "message_start at $i" if $i != 0;
            $s{id} = $d->{message}{id};

        } elsif ($name eq 'content_block_start') {
            return "block $d->{index} opened while $open is open"
                if defined $open;
            return "block $d->{index} where $next was expected"
                if $d->{index} != $next;
            $open = $next++;
            my $b = $d->{content_block};
            $type{$open} = $b->{type};

            if ($b->{type} eq 'tool_use') {
                return "tool_use without id" unless length $b->{id};
                push @{$s{tools}}, { index => $open, id => $b->{id},
                                     name => $b->{name}, json => '' };
            }

        } elsif ($name eq 'content_block_delta') {
            my $t = $type{$d->{index}}
                or return "delta for block $d->{index} never opened";
            my $dt = $d->{delta}{type};

            if ($dt eq 'text_delta' && $t eq 'text') {
                return "delta to closed text block" if $closed{$d->{index}};
                $s{text} .= $d->{delta}{text};

            } elsif ($dt eq 'thinking_delta' && $t eq 'thinking') {
                return "delta to closed block" if $closed{$d->{index}};
                $s{thinking} .= $d->{delta}{thinking};

            } elsif ($dt eq 'signature_delta' && $t eq 'thinking') {
                $s{signature} .= $d->{delta}{signature};

            } elsif ($dt eq 'input_json_delta' && $t eq 'tool_use') {
                my ($tool) = grep { $_->{index} == $d->{index} }
                             @{$s{tools}};
                $tool->{json} .= $d->{delta}{partial_json};

            } else {
                return "$dt in a $t block";
            }

        } elsif ($name eq 'content_block_stop') {
            return "stop of block $d->{index}, open: "
                   . ($open // 'none')
                unless defined $open && $d->{index} == $open;
            $closed{$open} = 1;
            undef $open;

        } elsif ($name eq 'message_delta') {
            return "message_delta with block $open open" if defined $open;
            return "second message_delta" if $mdelta++;
            return "message_delta not before message_stop"
                unless $i == $#ev - 1 && $ev[-1][0] eq 'message_stop';
            $s{stop_reason} = $d->{delta}{stop_reason};
            $s{usage} = $d->{usage};
            return "no output_tokens"
                unless defined $d->{usage}{output_tokens};

        } elsif ($name eq 'message_stop') {
            return "message_stop without message_delta" unless $mdelta;
            return "message_stop at $i" if $i != $#ev;

        } elsif ($name eq 'error') {
            return "error at $i" if $i != $#ev;
            $s{error} = $d->{error};

        } else {
            return "unknown event $name";
        }
    }

    for my $tool (@{$s{tools}}) {
        next unless length $tool->{json};
        my $v = eval { decode_json($tool->{json}) };
        return "tool $tool->{id}: input is not a JSON object: $tool->{json}"
            unless ref $v eq 'HASH';
    }

    return \%s;
}


# what an OpenAI adapter makes of a recorded stream (the same reading as
# the harness's), for the comparison

sub payloads {
    my ($file) = @_;

    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $all = <$fh>;
    close $fh;

    if ($file =~ /\.chunks\.txt$/) {
        return grep { length } split /\r?\n/, $all;
    }

    $all =~ s/\r\n/\n/g;

    my @p;

    for my $e (split /\n\n+/, $all) {
        my @d = map { s/^data: ?//r } grep { /^data:/ } split /\n/, $e;
        push @p, join("\n", @d) if @d;
    }

    return @p;
}

# "content": a string, or (Mistral's Magistral) text and thinking chunks

sub content {
    my ($c) = @_;

    return ('', '') unless defined $c;
    return ($c, '') unless ref $c;

    my ($text, $thinking) = ('', '');

    for my $e (@$c) {
        if ($e->{type} eq 'text') {
            $text .= $e->{text};

        } elsif ($e->{type} eq 'thinking') {
            $thinking .= join '', map { $_->{text} // '' }
                                  @{$e->{thinking}};
        }
    }

    return ($text, $thinking);
}

my %finish = (stop => 'end_turn', length => 'max_tokens',
              tool_calls => 'tool_use', function_call => 'tool_use',
              content_filter => 'refusal');

sub expect {
    my (@p) = @_;

    my %x = (text => '', thinking => '', tools => [], n => 0);

    for my $p (@p) {
        next if $p eq '[DONE]';
        my $c = decode_json($p);

        if ($c->{error}) {
            $x{error} = 1;
            last;
        }

        # Azure's prompt-filter chunk (no id, no choices) is skipped

        $x{id} //= $c->{id}
            unless ref $c->{choices} eq 'ARRAY' && !@{ $c->{choices} }
                   && $c->{prompt_filter_results};

        if (ref $c->{usage} eq 'HASH') {
            my $u = $c->{usage};
            my $cached = $u->{prompt_tokens_details}{cached_tokens} // 0;
            $x{usage} = { input_tokens => $u->{prompt_tokens} - $cached,
                          cache_read_input_tokens => $cached,
                          cache_creation_input_tokens => 0,
                          output_tokens => $u->{completion_tokens} };
        }

        my $d = $c->{choices}[0]{delta} // {};

        next if $x{finish};

        my $r = $d->{reasoning_content} // $d->{reasoning};
        $x{thinking} .= $r if defined $r && !ref $r;

        my ($text, $thinking) = content($d->{content});
        $x{thinking} .= $thinking;
        $x{text} .= $text;

        for my $tc (@{$d->{tool_calls} // []}) {
            my $i = $tc->{index} // $x{n}++;
            $x{tools}[$i] //= { id => undef, json => '' };
            $x{tools}[$i]{id} //= $tc->{id} if length($tc->{id} // '');
            $x{tools}[$i]{name} //= $tc->{function}{name};
            $x{tools}[$i]{json} .= $tc->{function}{arguments} // '';
        }

        my $f = $c->{choices}[0]{finish_reason};
        $x{finish} = $f if defined $f && !ref $f && length $f;
    }

    my $reason = $finish{$x{finish} // ''} // 'end_turn';
    $reason = 'tool_use' if @{$x{tools}} && $reason eq 'end_turn';
    $x{stop_reason} = $reason;

    return \%x;
}

my @files;

find(sub { push @files, $File::Find::name if /\.(sse|chunks\.txt)$/ },
     't/fixtures');

my $streams = 0;

for my $file (sort @files) {
    my @p = payloads($file);

    # OpenAI chat chunks only
    next unless grep { /"chat\.completion\.chunk"/ } @p;

    $streams++;

    my $out = `$bin stream $file 2>&1`;
    my $rc = $? >> 8;
    my $short = $file =~ s{.*/fixtures/}{}r;

    is($rc, 0, "$short: runs") or diag($out);

    my $s = check_stream($out);

    unless (ref $s) {
        fail("$short: Anthropic grammar: $s");
        diag($out);
        next;
    }

    pass("$short: Anthropic grammar");

    my $x = expect(@p);

    if ($x->{error}) {
        ok($s->{error}, "$short: error event");
        next;
    }

    if (length $x->{id}) {
        is($s->{id}, $x->{id}, "$short: message id");

    } else {
        like($s->{id}, qr/^msg_[0-9A-Za-z]{24}$/, "$short: message id made");
    }
    is($s->{text}, $x->{text}, "$short: text");
    is($s->{thinking}, $x->{thinking}, "$short: thinking");
    is($s->{stop_reason}, $x->{stop_reason}, "$short: stop_reason");

    is_deeply([ map { [$_->{id}, $_->{name}, $_->{json}] } @{$s->{tools}} ],
              [ map { [$_->{id}, $_->{name}, $_->{json}] }
                grep { defined } @{$x->{tools}} ],
              "$short: tool calls");

    if ($x->{usage}) {
        is_deeply($s->{usage}, $x->{usage}, "$short: usage");
    }
}

ok($streams >= 15, "$streams recorded OpenAI chat streams");


# -- recorded chat.completion bodies -----------------------------------------

sub usage {
    my ($u) = @_;
    my $cached = $u->{prompt_tokens_details}{cached_tokens} // 0;

    return { input_tokens => ($u->{prompt_tokens} // 0) - $cached,
             cache_creation_input_tokens => 0,
             cache_read_input_tokens => $cached,
             output_tokens => $u->{completion_tokens} // 0 };
}

my $completions = 0;

my @bodies;

find(sub { push @bodies, $File::Find::name if /response\.json$|\d\.json$/ },
     't/fixtures');

for my $file (sort @bodies) {
    next if $file =~ /request/;

    open my $fh, '<:raw', $file or die "$file: $!";
    my $body = do { local $/; <$fh> };
    close $fh;

    my $c = eval { decode_json($body) };
    next unless ref $c eq 'HASH' && ($c->{object} // '') eq 'chat.completion';

    $completions++;

    my $short = $file =~ s{.*/fixtures/}{}r;
    my $out = `$bin completion $file 2>&1`;
    my $m = eval { decode_json($out) };

    unless (ref $m eq 'HASH') {
        fail("$short: an Anthropic Message");
        diag($out);
        next;
    }

    my $msg = $c->{choices}[0]{message} // {};
    my ($text, $thinking) = content($msg->{content});
    $thinking = $msg->{reasoning_content} // $msg->{reasoning} // ''
        unless length $thinking;
    $text = $msg->{refusal} if !length $text && defined $msg->{refusal};

    my @blocks;

    push @blocks, { type => 'thinking', thinking => $thinking,
                    signature => '' } if length $thinking;
    push @blocks, { type => 'text', text => $text } if length $text;

    for my $tc (@{$msg->{tool_calls} // []}) {
        my $input = eval { JSON::PP->new->decode($tc->{function}{arguments}) };
        push @blocks, { type => 'tool_use',
                        id => length($tc->{id} // '') ? $tc->{id} : 'ANY',
                        name => $tc->{function}{name},
                        input => ref $input eq 'HASH' ? $input : {} };
    }

    my $reason = $finish{$c->{choices}[0]{finish_reason} // ''} // 'end_turn';
    $reason = 'tool_use' if $reason eq 'end_turn' && @{$msg->{tool_calls} // []};
    $reason = 'refusal' if $reason eq 'end_turn' && !length($msg->{content} // '')
                           && length($msg->{refusal} // '');

    # made-up tool call ids are made up
    for my $i (0 .. $#blocks) {
        $blocks[$i]{id} = $m->{content}[$i]{id}
            if ($blocks[$i]{id} // '') eq 'ANY' && ref $m->{content}[$i];
    }

    is_deeply($m, { id => $c->{id}, type => 'message', role => 'assistant',
                    model => 'claude-test', content => \@blocks,
                    stop_reason => $reason, stop_sequence => undef,
                    usage => usage($c->{usage} // {}) },
              "$short: Anthropic Message")
        or diag($out);
}

ok($completions >= 20, "$completions recorded chat completions");



# -- recorded Anthropic streams and Messages: Anthropic clients of an
# Anthropic provider, through the canonical model and back --------------

my %anthropic_stop = (end_turn => 'end_turn', stop_sequence => 'end_turn',
                      pause_turn => 'end_turn', max_tokens => 'max_tokens',
                      model_context_window_exceeded => 'max_tokens',
                      tool_use => 'tool_use', refusal => 'refusal');

sub anthropic_expect {
    my (@events) = @_;

    my %x = (text => '', thinking => '', signature => '', tools => []);
    my %type;

    for my $e (@events) {
        my $t = $e->{type} // '';

        if ($t eq 'message_start') {
            next if defined $x{id};
            $x{id} = $e->{message}{id};
            $x{usage} = { %{ $e->{message}{usage} // {} } };

        } elsif ($t eq 'content_block_start') {
            my $b = $e->{content_block};
            $type{$e->{index}} = $b->{type};

            if ($b->{type} eq 'tool_use') {
                push @{$x{tools}}, { index => $e->{index}, id => $b->{id},
                                     name => $b->{name}, json => '' };
            }

        } elsif ($t eq 'content_block_delta') {
            my $bt = $type{$e->{index}} // '';
            my $d = $e->{delta};

            if ($bt eq 'text' && $d->{type} eq 'text_delta') {
                $x{text} .= $d->{text};

            } elsif ($bt eq 'thinking' && $d->{type} eq 'thinking_delta') {
                $x{thinking} .= $d->{thinking};

            } elsif ($bt eq 'thinking' && $d->{type} eq 'signature_delta') {
                $x{signature} .= $d->{signature};

            } elsif ($bt eq 'tool_use' && $d->{type} eq 'input_json_delta') {
                my ($tool) = grep { $_->{index} == $e->{index} }
                             @{$x{tools}};
                $tool->{json} .= $d->{partial_json};
            }

        } elsif ($t eq 'message_delta') {
            $x{stop_reason} = $e->{delta}{stop_reason};
            my $u = $e->{usage} // {};
            $x{usage}{$_} = $u->{$_} for grep { defined $u->{$_} } keys %$u;

        } elsif ($t eq 'error') {
            $x{error} = 1;
        }
    }

    return \%x;
}

sub input_of {
    my $j = shift;
    return {} unless length $j;
    my $v = eval { JSON::PP->new->decode($j) };
    return ref $v eq 'HASH' ? $v : {};
}

# prompt tokens in all: Anthropic's input excludes cache reads and writes
sub prompt_of {
    my $u = shift;
    return ($u->{input_tokens} // 0) + ($u->{cache_read_input_tokens} // 0)
           + ($u->{cache_creation_input_tokens} // 0);
}

my $anthropic = 0;

for my $file (sort @files) {
    next unless $file =~ m{/test_anthropic/|/packages/anthropic/};

    my @events = grep { ref } map { eval { decode_json($_) } }
                 payloads($file);

    my %ids = map { $_->{message}{id} => 1 }
              grep { ($_->{type} // '') eq 'message_start' } @events;

    next unless %ids;

    # several messages in one recording (steps of an agent, a restarted
    # message): one message each for the adapter, not comparable
    next if keys %ids > 1;

    $anthropic++;

    my $short = $file =~ s{.*/fixtures/}{}r;
    my $out = `$bin stream $file anthropic 2>&1`;
    my $s = check_stream($out);

    unless (ref $s) {
        fail("anthropic $short: Anthropic grammar: $s");
        diag($out);
        next;
    }

    my $x = anthropic_expect(@events);

    if ($x->{error}) {
        ok($s->{error}, "anthropic $short: error event");
        next;
    }

    my $stop = $anthropic_stop{$x->{stop_reason} // ''} // 'end_turn';
    $stop = 'tool_use' if $stop eq 'end_turn' && @{$x->{tools}};

    is_deeply(
        { id => $s->{id}, text => $s->{text}, thinking => $s->{thinking},
          signature => $s->{signature}, stop_reason => $s->{stop_reason},
          tools => [ map { [$_->{id}, $_->{name}, input_of($_->{json})] }
                     @{$s->{tools}} ],
          output_tokens => $s->{usage}{output_tokens},
          prompt_tokens => prompt_of($s->{usage}),
          cache_read => $s->{usage}{cache_read_input_tokens} },
        { id => $x->{id}, text => $x->{text}, thinking => $x->{thinking},
          signature => $x->{signature}, stop_reason => $stop,
          tools => [ map { [$_->{id}, $_->{name}, input_of($_->{json})] }
                     @{$x->{tools}} ],
          output_tokens => $x->{usage}{output_tokens} // 0,
          prompt_tokens => prompt_of($x->{usage}),
          cache_read => $x->{usage}{cache_read_input_tokens} // 0 },
        "anthropic $short: the same message")
        or diag($out);
}

ok($anthropic >= 20, "$anthropic recorded Anthropic streams");

my $messages = 0;

for my $file (sort @bodies) {
    next unless $file =~ m{/test_anthropic/|/packages/anthropic/};

    open my $fh, '<:raw', $file or die "$file: $!";
    my $body = do { local $/; <$fh> };
    close $fh;

    my $m = eval { decode_json($body) };
    next unless ref $m eq 'HASH' && ($m->{type} // '') eq 'message';

    $messages++;

    my $short = $file =~ s{.*/fixtures/}{}r;
    my $out = `$bin completion $file anthropic 2>&1`;
    my $a = eval { decode_json($out) };

    unless (ref $a eq 'HASH') {
        fail("anthropic $short: an Anthropic Message");
        diag($out);
        next;
    }

    # the blocks the canonical model has: thinking first, text joined,
    # tool calls last
    my (@thinking, $text, @tools);

    for my $b (@{$m->{content}}) {
        if ($b->{type} eq 'thinking') {
            push @thinking, { type => 'thinking', thinking => $b->{thinking},
                              signature => $b->{signature} };

        } elsif ($b->{type} eq 'redacted_thinking') {
            push @thinking, { type => 'redacted_thinking',
                              data => $b->{data} };

        } elsif ($b->{type} eq 'text') {
            $text .= $b->{text};

        } elsif ($b->{type} eq 'tool_use') {
            push @tools, { type => 'tool_use', id => $b->{id},
                           name => $b->{name}, input => $b->{input} };
        }
    }

    my $stop = $anthropic_stop{$m->{stop_reason} // ''} // 'end_turn';
    $stop = 'tool_use' if $stop eq 'end_turn' && @tools;

    is_deeply(
        { id => $a->{id}, model => $a->{model}, content => $a->{content},
          stop_reason => $a->{stop_reason},
          output_tokens => $a->{usage}{output_tokens},
          prompt_tokens => prompt_of($a->{usage}) },
        { id => $m->{id}, model => 'claude-test',
          content => [ @thinking,
                       (defined $text ? { type => 'text', text => $text }
                                      : ()),
                       @tools ],
          stop_reason => $stop,
          output_tokens => $m->{usage}{output_tokens},
          prompt_tokens => prompt_of($m->{usage}) },
        "anthropic $short: the same Message")
        or diag($out);
}

ok($messages >= 3, "$messages recorded Anthropic Messages");

done_testing();
