# The request body read in one piece (ngx_http_llm_body_in_one_buffer):
# a body larger than the header buffer but within client_body_buffer_size
# is read by nginx into memory of the body's size, after the part that
# came with the headers, and passed on byte for byte; the connection's
# header buffer gets its memory back for the next request on it, even a
# pipelined one written in the same packet, and after a client that gave
# up in the middle of its body.  Bodies over the buffer (a temporary
# file), and bodies that came whole with the headers, take nginx's way.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);
use t::LLMServer;

my $s = t::LLMServer->new(workers => 1);

plan skip_all => 'module not built' if !$s->module_found;

my $reply = '{"id":"chatcmpl-b","object":"chat.completion","created":1,'
    . '"model":"m","choices":[{"index":0,"message":{"role":"assistant",'
    . '"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,'
    . '"completion_tokens":1,"total_tokens":2}}';

# the mock logs every body it receives, unescaped, one per line
$s->start(<<"_EOC_");
    log_format body escape=none '\$request_body';

    client_body_buffer_size 64k;
    client_max_body_size 1m;

    llm_provider mock type=openai upstream=127.0.0.1:__PORT__ base=/mock
                 key=none;
    llm_route default mock;

    server {
        listen 127.0.0.1:__PORT__;
        keepalive_requests 1000;

        location /v1/ {
            llm_pass;
        }

        location /mock/ {
            client_body_buffer_size 2m;
            access_log __ROOT__/logs/bodies.log body;
            default_type application/json;
            echo_read_request_body;
            echo -n '$reply';
        }
    }
_EOC_

my $worker;

for (1 .. 100) {
    last if $worker = ($s->worker_pids)[0];
    sleep 0.05;
}

sub body {
    my ($size, $tag) = @_;
    my $head = '{"model":"gpt-4o","messages":[{"role":"user","content":"'
               . $tag . ' ';
    my $tail = '"}]}';
    my $n = $size - length($head) - length($tail);
    return $head . join('', map { chr(97 + $_ % 26) } 0 .. $n - 1) . $tail;
}

sub req {
    my ($body, $close) = @_;
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . ($close ? "Connection: close\r\n" : '') . "\r\n" . $body;
}

sub conn {
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $s->port, Proto => 'tcp')
        or die "connect: $!";
    return $c;
}

sub write_all {
    my ($c, $data) = @_;
    while (length $data) {
        my $n = syswrite($c, $data);
        die "write: $!" if !defined $n;
        substr($data, 0, $n) = '';
    }
}

sub read_all {
    my ($c, $timeout) = @_;
    my $buf = '';
    my $sel = IO::Select->new($c);
    my $end = time + ($timeout // 10);

    while (time < $end && $sel->can_read($end - time)) {
        my $n = sysread($c, my $chunk, 65536);
        last if !$n;
        $buf .= $chunk;
    }

    return $buf;
}

# the statuses of the responses in a raw stream, in order
sub statuses {
    my $raw = shift;
    return $raw =~ m{HTTP/1\.1 (\d{3}) OK\r\n}g;
}

sub bodies_seen {
    my $log = $s->read_file('logs/bodies.log');
    return split /\n/, $log;
}

my $log0 = $s->error_log_size;

# 1. bodies from 2 KB (over the 1k header buffer) to 80 KB (64k + 1/4),
#    written with the headers at once, each on a keep-alive connection
#    followed in the same packet by a small request

my @sent;

for my $size (2048, 10_000, 65_536, 80_000) {
    my $big = body($size, "one-$size");
    my $small = body(200, "after-$size");
    push @sent, $big, $small;

    my $c = conn();
    write_all($c, req($big) . req($small, 1));
    my $raw = read_all($c);
    close $c;

    is(join(' ', statuses($raw)), '200 200',
       "$size bytes then a pipelined request: both answered");
}

# 2. a body written in pieces, with pauses: read in several recv()s
{
    my $big = body(50_000, 'pieces');
    push @sent, $big;

    my $data = req($big, 1);
    my $c = conn();

    while (length $data) {
        write_all($c, substr($data, 0, 7000, ''));
        sleep 0.05;
    }

    is(join(' ', statuses(read_all($c))), '200', 'a body in pieces');
    close $c;
}

# 3. over client_body_buffer_size + 1/4 (a temporary file), and a small
#    body whole with the headers: nginx's way, the same bodies upstream
for my $size (120_000, 300) {
    my $b = body($size, "other-$size");
    push @sent, $b;
    my $c = conn();
    write_all($c, req($b, 1));
    is(join(' ', statuses(read_all($c))), '200', "$size bytes");
    close $c;
}

my @seen = bodies_seen();

is(scalar @seen, scalar @sent, 'the mock got every body');

my $same = grep { defined $seen[$_] && $seen[$_] eq $sent[$_] } 0 .. $#sent;
is($same, scalar @sent, 'byte for byte, in order');

# 4. clients that give up in the middle of their body, then new requests
#    on the same worker: its header buffers are whole again
for my $i (1 .. 20) {
    my $c = conn();
    my $data = req(body(30_000, "cut-$i"));
    write_all($c, substr($data, 0, 1000 + 700 * $i));
    sleep 0.01;
    close $c;
}

sleep 0.3;

{
    my $c = conn();
    my $b1 = body(20_000, 'after-cut-1');
    my $b2 = body(3000, 'after-cut-2');
    write_all($c, req($b1) . req($b2) . req(body(100, 'after-cut-3'), 1));
    is(join(' ', statuses(read_all($c))), '200 200 200',
       'three pipelined requests after the cut ones');
    close $c;
}

is(($s->worker_pids)[0], $worker, 'the worker is the same process');

unlike($s->error_log_since($log0),
       qr/exited on signal|\[alert\]|\[crit\]|\[emerg\]/,
       'no crash, alert or critical error');

$s->stop;

done_testing();
