package t::LLMServer;

# A small harness for the suites that Test::Nginx's block format cannot
# express: an nginx with a master and several workers started by the test
# itself, reloaded with SIGHUP, and hit by many concurrent clients.
#
#     my $s = t::LLMServer->new(workers => 2);
#     $s->start($http_block);              # the http{} body, __PORT__ in it
#     my $r = $s->request(POST => '/v1/chat/completions', $body, @headers);
#     my @r = $s->parallel(200, sub { ... one raw request ... });
#     $s->reload($new_http_block);         # SIGHUP, waits for new workers
#     $s->stop;
#
# Environment, as Test::Nginx: TEST_NGINX_BINARY, TEST_NGINX_SERVROOT,
# TEST_NGINX_SERVER_PORT, TEST_NGINX_LOAD_MODULES (else LLM_MODULE).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More ();
use t::LLMCanary;

sub new {
    my ($class, %o) = @_;

    my $root = $ENV{TEST_NGINX_SERVROOT}
               || abs_path('t') . '/servroot';

    my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

    if (!@modules) {
        my $m = $ENV{LLM_MODULE} || 'build/ngx_http_llm_module.so';
        $m = abs_path($m) // $m;
        @modules = ('/usr/lib/nginx/modules/ngx_http_echo_module.so', $m);
    }

    my $self = bless {
        binary  => $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx',
        root    => $root,
        port    => $ENV{TEST_NGINX_SERVER_PORT} || 1984,
        workers => $o{workers} // 2,
        modules => \@modules,
    }, $class;

    return $self;
}

sub port { $_[0]{port} }
sub root { $_[0]{root} }

sub module_found {
    my $self = shift;
    return !grep { !-f $_ } @{ $self->{modules} };
}

sub write_conf {
    my ($self, $http) = @_;

    my $root = $self->{root};
    my $port = $self->{port};

    $http =~ s/__PORT__/$port/g;
    $http =~ s/__ROOT__/$root/g;

    my $conf = join('', map { "load_module $_;\n" } @{ $self->{modules} })
        . ($> == 0 ? "user root;\n" : "")
        . "worker_processes $self->{workers};\n"
        . "worker_rlimit_nofile 8192;\n"
        . "daemon on;\nmaster_process on;\n"
        . "pid $root/logs/nginx.pid;\n"
        . "error_log $root/logs/error.log info;\n"
        . "events { worker_connections 4096; }\n"
        . "http {\n"
        . "    access_log $root/logs/access.log;\n"
        . "    client_body_temp_path $root/tmp;\n"
        . "    default_type text/plain;\n"
        . $http
        . "}\n";

    open my $fh, '>', "$root/conf/nginx.conf" or die "$root: $!";
    print $fh $conf;
    close $fh;
}

# the http{} body, then files to write under the server root first
sub start {
    my ($self, $http, %files) = @_;

    my $root = $self->{root};

    $self->stop if -f "$root/logs/nginx.pid";

    remove_tree($root);
    $self->{canary_pos} = {};
    make_path("$root/conf", "$root/logs", "$root/html", "$root/tmp");

    $self->write_file($_, $files{$_}) for keys %files;
    $self->write_conf($http);

    my $out = `$self->{binary} -p $root/ -c conf/nginx.conf 2>&1`;

    die "nginx did not start: $out" if $? != 0;

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $self->{port});
        return 1 if $s;
        sleep 0.05;
    }

    die "nginx does not listen on $self->{port}";
}

# "nginx -t" of an http{} body against the running server root: its output
sub test_conf {
    my ($self, $http) = @_;

    $self->write_conf($http);

    my $root = $self->{root};

    return scalar `$self->{binary} -t -p $root/ -c conf/nginx.conf 2>&1`;
}

sub master_pid {
    my $self = shift;
    open my $fh, '<', "$self->{root}/logs/nginx.pid" or return;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

sub worker_pids {
    my $self = shift;
    my $master = $self->master_pid or return ();
    my @pids = split ' ', `pgrep -P $master`;
    return @pids;
}

# SIGHUP with a new http{} body (undef: the same); 1 when new workers
# took over (old ones may still finish their requests), 0 when the
# master kept the running configuration (the error log says why)
sub reload {
    my ($self, $http) = @_;

    my $master = $self->master_pid or die "no master";
    my %old = map { $_ => 1 } $self->worker_pids;
    my $log = $self->error_log_size;

    $self->write_conf($http) if defined $http;

    kill 'HUP', $master;

    for (1 .. 200) {
        sleep 0.05;

        my $text = $self->error_log_since($log);

        return 0 if $text =~ /\[emerg\]/;

        my @new = grep { !$old{$_} } $self->worker_pids;

        return 1 if @new >= $self->{workers};
    }

    die "reload: new workers did not take over";
}

sub stop {
    my $self = shift;

    my $master = $self->master_pid or return;

    $self->canary_report;

    kill 'QUIT', $master;

    for (1 .. 100) {
        last if !kill 0, $master;
        sleep 0.05;
    }

    kill 'KILL', $master if kill 0, $master;
    unlink "$self->{root}/logs/nginx.pid";
}

sub error_log_size {
    my $self = shift;
    return -s "$self->{root}/logs/error.log" // 0;
}

sub error_log_since {
    my ($self, $offset) = @_;

    open my $fh, '<', "$self->{root}/logs/error.log" or return '';
    seek $fh, $offset // 0, 0;
    local $/;
    my $text = <$fh> // '';
    close $fh;
    return $text;
}

sub read_file {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{root}/$name" or return '';
    local $/;
    my $text = <$fh> // '';
    close $fh;
    return $text;
}

sub write_file {
    my ($self, $name, $text) = @_;
    open my $fh, '>', "$self->{root}/$name" or die "$name: $!";
    print $fh $text;
    close $fh;
}

# a raw HTTP/1.1 request, Connection: close
sub raw {
    my ($method, $uri, $body, @headers) = @_;

    $body //= '';

    return "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
           . join('', map { "$_\r\n" } @headers)
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Content-Type: application/json\r\n"
           . "Connection: close\r\n\r\n$body";
}

# the suite's canary (t/LLMCanary.pm): every response parsed here, and
# every log under logs/ when the server stops, searched for the secrets
my @canary_hits;

sub canary_response {
    my ($raw) = @_;

    my $hit = t::LLMCanary::find($raw) // return;

    push @canary_hits, "a response: $hit";
}

sub canary_report {
    my ($self) = @_;

    push @canary_hits, map { "logs/$_" }
         t::LLMCanary::scan_dir("$self->{root}/logs", $self->{canary_pos});

    Test::More::fail("no canary secret in the responses and logs of "
                     . "$0: $_") for @canary_hits;

    @canary_hits = ();
}

# { status, headers (lower-case names), body }
sub parse {
    my $raw = shift // '';

    canary_response($raw);

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;

    return { status => 0, headers => {}, body => '', raw => $raw }
        if !defined $head || $head !~ m{^HTTP/1\.\d (\d+)};

    my $status = $1;
    my %h;

    for my $line (split /\r\n/, $head) {
        next if $line !~ /^([^:]+):\s*(.*)$/;
        $h{lc $1} = $2;
    }

    $body //= '';

    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';

        while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n);
            substr($body, 0, $n + 2) = '';
        }

        $body = $out;
    }

    return { status => $status, headers => \%h, body => $body, raw => $raw };
}

# a request left in flight: its socket, for finish()
sub begin {
    my ($self, $raw) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->{port},
                                  Proto => 'tcp')
        or die "connect: $!";

    syswrite($s, $raw) == length $raw or die "write: $!";

    return $s;
}

sub finish {
    my ($self, $s) = @_;

    my $buf = '';

    while (sysread($s, my $chunk, 65536)) {
        $buf .= $chunk;
    }

    close $s;

    return parse($buf);
}

sub request {
    my ($self, $method, $uri, $body, @headers) = @_;
    my ($r) = $self->send_all([ raw($method, $uri, $body, @headers) ]);
    return $r;
}

# sends every request on its own connection, all connected first and
# written back to back, then reads every answer; in the order given
sub send_all {
    my ($self, $reqs, $timeout) = @_;

    $timeout //= 30;

    my (@socks, @buf, %idx);

    for my $i (0 .. $#$reqs) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $self->{port},
                                      Proto => 'tcp')
            or die "connect: $!";
        push @socks, $s;
        $idx{fileno $s} = $i;
        $buf[$i] = '';
    }

    for my $i (0 .. $#$reqs) {
        my $s = $socks[$i];
        my $data = $reqs->[$i];

        while (length $data) {
            my $n = syswrite($s, $data);
            die "write: $!" if !defined $n;
            substr($data, 0, $n) = '';
        }
    }

    my $sel = IO::Select->new(@socks);
    my $deadline = time + $timeout;

    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(0.5)) {
            my $i = $idx{fileno $s};
            my $n = sysread($s, my $chunk, 65536);

            if (!$n) {
                $sel->remove($s);
                close $s;
                next;
            }

            $buf[$i] .= $chunk;
        }
    }

    my @out;

    for my $i (0 .. $#$reqs) {
        push @out, parse($buf[$i]);
    }

    return @out;
}

1;
