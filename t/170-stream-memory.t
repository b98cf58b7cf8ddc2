# Constant memory for long streams (issue 3): 100,000 events go through
# one worker, passthrough (OpenAI provider, OpenAI client) and translated
# (Anthropic provider to an OpenAI client, OpenAI provider to an Anthropic
# client, gzip-compressed Anthropic stream), and the worker's VmRSS,
# read from /proc while the stream is in flight, grows by less than 1 MB
# between the 10,000th and the last event.  A provider forked here writes
# the events as fast as nginx reads them.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Compress::Raw::Zlib qw(WANT_GZIP Z_SYNC_FLUSH Z_OK);

use t::LLMServer;

plan skip_all => 'no /proc' if !-r "/proc/$$/status";

my $EVENTS = $ENV{LLM_MEMORY_EVENTS} || 100_000;
my $LIMIT = 1024;       # KB

my $s = t::LLMServer->new(workers => 1);

plan skip_all => 'the module is not built' if !$s->module_found;

# --- the provider --------------------------------------------------------

sub chunk { join '', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @_ }

sub openai_events {
    my @e;
    for my $i (1 .. $EVENTS) {
        push @e, 'data: {"id":"c1","object":"chat.completion.chunk",'
                 . '"created":1,"model":"gpt-4o","choices":[{"index":0,'
                 . "\"delta\":{\"content\":\"tok$i \"},"
                 . "\"finish_reason\":null}]}\n\n";
    }
    push @e, 'data: {"id":"c1","object":"chat.completion.chunk",'
             . '"created":1,"model":"gpt-4o","choices":[{"index":0,'
             . '"delta":{},"finish_reason":"stop"}],"usage":'
             . '{"prompt_tokens":5,"completion_tokens":100000,'
             . "\"total_tokens\":100005}}\n\n", "data: [DONE]\n\n";
    return \@e;
}

sub anthropic_events {
    my @e = ("event: message_start\ndata: {\"type\":\"message_start\","
             . '"message":{"id":"msg_1","type":"message","role":"assistant",'
             . '"model":"claude-sonnet-4-5","content":[],"stop_reason":null,'
             . "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
             "event: content_block_start\ndata: {\"type\":"
             . '"content_block_start","index":0,"content_block":'
             . "{\"type\":\"text\",\"text\":\"\"}}\n\n");
    for my $i (1 .. $EVENTS) {
        push @e, "event: content_block_delta\ndata: {\"type\":"
                 . '"content_block_delta","index":0,"delta":'
                 . "{\"type\":\"text_delta\",\"text\":\"tok$i \"}}\n\n";
    }
    push @e, "event: content_block_stop\ndata: {\"type\":"
             . "\"content_block_stop\",\"index\":0}\n\n",
             "event: message_delta\ndata: {\"type\":\"message_delta\","
             . '"delta":{"stop_reason":"end_turn"},"usage":'
             . "{\"output_tokens\":100000}}\n\n",
             "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    return \@e;
}

# chunked, 50 events a chunk; gzip: each chunk flushed
sub body {
    my ($events, $gzip) = @_;

    my @chunks;

    for (my $i = 0; $i < @$events; $i += 50) {
        my $end = $i + 49 < $#$events ? $i + 49 : $#$events;
        push @chunks, join('', @$events[$i .. $end]);
    }

    if ($gzip) {
        my ($d, $st) = Compress::Raw::Zlib::Deflate->new(
                                    -WindowBits => WANT_GZIP,
                                    -AppendOutput => 1);
        die "deflate: $st" if $st != Z_OK;

        for (@chunks) {
            my $o = '';
            $d->deflate($_, $o);
            $d->flush($o, Z_SYNC_FLUSH);
            $_ = $o;
        }

        my $o = '';
        $d->flush($o);
        push @chunks, $o;
    }

    return chunk(@chunks) . "0\r\n\r\n";
}

my %bodies = (
    openai       => body(openai_events(), 0),
    anthropic    => body(anthropic_events(), 0),
    anthropic_gz => body(anthropic_events(), 1),
);

my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                Proto => 'tcp', Listen => 16,
                                ReuseAddr => 1)
    or die "provider: $!";

my $provider_port = $srv->sockport;
my $parent = $$;

my $pid = fork();
die "fork: $!" if !defined $pid;

if ($pid == 0) {
    $SIG{PIPE} = 'IGNORE';

    while (my $c = $srv->accept) {
        my $req = '';

        while ($req !~ /\r\n\r\n/) {
            my $n = sysread($c, $req, 65536, length $req);
            last if !$n;
        }

        my ($len) = $req =~ /Content-Length: (\d+)/i;
        my $want = index($req, "\r\n\r\n") + 4 + ($len // 0);

        while (length $req < $want) {
            my $n = sysread($c, $req, 65536, length $req);
            last if !$n;
        }

        my ($kind) = $req =~ m{^POST /(\w+)/};
        my $gz = $kind eq 'anthropic_gz';

        my $out = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  . ($gz ? "Content-Encoding: gzip\r\n" : '')
                  . "Transfer-Encoding: chunked\r\n\r\n" . $bodies{$kind};

        my $off = 0;
        while ($off < length $out) {
            my $n = syswrite($c, $out, 1 << 20, $off);
            last if !defined $n;
            $off += $n;
        }

        close $c;
    }

    POSIX::_exit(0);
}

close $srv;

END {
    local $?;

    if ($$ == $parent && $pid) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }

    $s->stop if $$ == $parent;
}

# --- nginx ---------------------------------------------------------------

$s->start(<<"_EOC_");
    llm_provider oai type=openai upstream=127.0.0.1:$provider_port
                 base=/openai key=none;
    llm_provider ant type=anthropic upstream=127.0.0.1:$provider_port
                 base=/anthropic key=none;
    llm_provider antgz type=anthropic upstream=127.0.0.1:$provider_port
                 base=/anthropic_gz key=none;
    llm_route gpt-4o oai;
    llm_route claude ant:claude-sonnet-4-5;
    llm_route claude-gz antgz:claude-sonnet-4-5;

    server {
        listen 127.0.0.1:__PORT__;

        location /v1/ {
            llm_pass;
            llm_read_timeout 10s;
        }
    }
_EOC_

my ($worker) = $s->worker_pids;

ok($worker, "one worker: $worker");

sub rss {
    open my $fh, '<', "/proc/$worker/status" or return 0;
    local $/;
    my $st = <$fh>;
    my ($kb) = $st =~ /^VmRSS:\s+(\d+)\s+kB/m;
    return $kb;
}

# streams one request: VmRSS after the 10,000th event and before the end;
# the events counted, the body's tail
sub stream {
    my ($uri, $body) = @_;

    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $s->port, Proto => 'tcp')
        or die "connect: $!";

    print $c t::LLMServer::raw(POST => $uri, $body);

    my ($buf, $events, $rss1, $rss2, $tail) = ('', 0, 0, 0, '');
    my $sel = IO::Select->new($c);
    my $total = 0;

    while ($sel->can_read(10)) {
        my $n = sysread($c, $buf, 65536);
        last if !$n;

        $total += $n;
        $events += () = $buf =~ /\n\n/g;
        $tail = substr($tail . $buf, -2000);

        if (!$rss1 && $events >= 10_000) {
            $rss1 = rss();
        }

        if ($events >= $EVENTS - 1000 && !$rss2) {
            $rss2 = rss();
        }
    }

    close $c;

    return { events => $events, rss1 => $rss1, rss2 => $rss2,
             tail => $tail, bytes => $total };
}

my @cases = (
    [ 'passthrough, OpenAI provider', '/v1/chat/completions',
      '{"model":"gpt-4o","stream":true,"messages":[{"role":"user",'
      . '"content":"hi"}]}', qr/data: \[DONE\]\n\n\r\n0\r\n\r\n\z/ ],
    [ 'translated, Anthropic provider to an OpenAI client',
      '/v1/chat/completions',
      '{"model":"claude","stream":true,"messages":[{"role":"user",'
      . '"content":"hi"}]}', qr/data: \[DONE\]\n\n\r\n0\r\n\r\n\z/ ],
    [ 'translated, OpenAI provider to an Anthropic client', '/v1/messages',
      '{"model":"gpt-4o","max_tokens":100,"stream":true,"messages":'
      . '[{"role":"user","content":"hi"}]}',
      qr/event: message_stop\ndata: [^\n]*\n\n\r\n0\r\n\r\n\z/ ],
    [ 'translated, gzip Anthropic provider to an OpenAI client',
      '/v1/chat/completions',
      '{"model":"claude-gz","stream":true,"messages":[{"role":"user",'
      . '"content":"hi"}]}', qr/data: \[DONE\]\n\n\r\n0\r\n\r\n\z/ ],
);

for my $case (@cases) {
    my ($name, $uri, $body, $end) = @$case;

    my $r = stream($uri, $body);

    cmp_ok($r->{events}, '>=', $EVENTS, "$name: all events");
    like($r->{tail}, $end, "$name: the stream's end");

    my $growth = $r->{rss2} - $r->{rss1};

    diag(sprintf("%s: %d events, %.1f MB, VmRSS %d kB after 10,000 "
                 . "events, %d kB at the end: %+d kB",
                 $name, $r->{events}, $r->{bytes} / 1048576, $r->{rss1},
                 $r->{rss2}, $growth));

    cmp_ok($growth, '<', $LIMIT, "$name: VmRSS grows by less than 1 MB");
}

my $log = $s->error_log_since(0) // '';
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alerts');

done_testing();
