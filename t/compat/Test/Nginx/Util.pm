package Test::Nginx::Util;

# Clean-room, Test::Nginx-compatible test runner for ngx_http_llm_module.
#
# This file is NOT openresty/test-nginx: it was written from that project's
# public documentation (the Test::Nginx::Socket POD and the "Programming
# OpenResty" testing chapter) so that our t/*.t files, which are written in
# the Test::Nginx::Socket block format, can run where the real module is not
# installed (it is not packaged in Debian).  It is used only when
# "perl -MTest::Nginx::Socket -e1" fails without -It/compat.
#
# This module holds the server-side half of the runner: the global settings,
# the $TEST_NGINX_* expansion, the server root layout, nginx.conf generation,
# starting and stopping nginx, reading the error log and the embedded TCP
# mock server.  Test::Nginx::Socket holds the client side and the checks.

use strict;
use warnings;

use Carp qw(croak);
use Cwd ();
use Exporter ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);
use Test::More ();
use Test::LongString ();

our @ISA = qw(Exporter);

sub expand_env_in_text ($$$);
sub gen_rand_port (;$$);
sub bail_out (@);

our $VERSION = '0.01';

# Marker so that t/000-compat.t can tell this runner from the real one.
our $IS_COMPAT = 1;

our @EXPORT = qw(
    env_to_nginx is_str repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler
);

our @EXPORT_OK = qw(
    expand_env_in_text parse_time parse_headers trim sleep_time verbose
    error_log_data access_log_data get_pid_from_pidfile is_running
    setup_server_root write_user_files write_config_file get_nginx_version
    start_nginx stop_nginx tcp_server_start tcp_server_stop cleanup
    gen_rand_port
);


# Settings, from the environment first, then from the Perl API below.

our $RepeatEach          = 1;
our $Workers             = 1;
our $WorkerConnections   = 64;
our $LogLevel            = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled       = 'on';
our $ServerAddr          = '127.0.0.1';
our $ServerName          = 'localhost';
our $ServerPort          = $ENV{TEST_NGINX_SERVER_PORT}
                           || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT}
                           || $ENV{TEST_NGINX_PORT} || $ServerPort;
our $NoRootLocation      = 0;
our $NoShuffle           = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString        = 0;
our $CheckAccumErrLog    = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG} || 0;
our $Timeout             = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep      = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest  = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                           ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $NginxBinary         = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LoadModules         = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind         = $ENV{TEST_NGINX_USE_VALGRIND};
our $EventType           = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput      = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $Verbose             = $ENV{TEST_NGINX_VERBOSE};
our $Randomize           = $ENV{TEST_NGINX_RANDOMIZE};
our $CheckLeak           = $ENV{TEST_NGINX_CHECK_LEAK} || 0;
our $NoNginxManager      = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $WorkerUser          = $ENV{TEST_NGINX_WORKER_USER};
our $UseHup              = 0;
our $ConfigPreamble      = '';
our $FilterHttpConfig;

our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;
our @TestCleanupHandlers;

our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion, $NginxV);

# Per-block state shared with Test::Nginx::Socket.
our $RandPorts = {};
our $ErrLogFilePos = 0;
our $NginxStarted;         # pid of the nginx this block started
our $ValgrindPid;          # foreground nginx under valgrind (our child)
our $TcpServerPid;
our $InSubprocess;
our $ShutdownLogCheck;

if ($UseValgrind) {
    # nginx stays in the foreground under valgrind, as a child of ours,
    # so that the reports reach a file we own.
    $DaemonEnabled = 'off';
}

if ($Randomize) {
    my $port = gen_rand_port(1000);
    if (!defined $port) {
        die "Cannot find a free port for TEST_NGINX_RANDOMIZE\n";
    }

    $ServerPort = $port;
    $ServerPortForClient = $port;
}

our $ServRoot;

if ($Randomize) {
    $ServRoot = File::Spec->rel2abs("t/servroot_$ServerPort");

} else {
    $ServRoot = $ENV{TEST_NGINX_SERVROOT}
                || File::Spec->rel2abs('t/servroot');
}

$ServRoot = File::Spec->rel2abs($ServRoot);

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $StderrFile = File::Spec->catfile($ServRoot, 'nginx.stderr');

$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR} = $HtmlDir;


# The Perl API (exported by Test::Nginx::Socket).

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub workers (@) {
    $Workers = shift if @_;
    return $Workers;
}

sub worker_connections (@) {
    $WorkerConnections = shift if @_;
    return $WorkerConnections;
}

sub log_level (@) {
    $LogLevel = shift if @_;
    return $LogLevel;
}

sub master_on () {
    $MasterProcessEnabled = 'on';
}

sub master_off () {
    $MasterProcessEnabled = 'off';
}

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = $_[0] ? 'on' : 'off';
    }

    return $MasterProcessEnabled eq 'on' ? 1 : 0;
}

sub no_shuffle () {
    $NoShuffle = 1;
}

sub no_root_location () {
    $NoRootLocation = 1;
}

sub no_long_string () {
    $NoLongString = 1;
}

sub check_accum_error_log () {
    $CheckAccumErrLog = 1;
}

sub no_nginx_manager () {
    $NoNginxManager = 1;
}

sub use_hup () {
    # The HUP reload mode is not implemented by this runner; restarting
    # nginx for each block is the documented default anyway.
    Test::More::diag("use_hup() is not supported by the compat runner; "
                     . "restarting nginx per block instead");
}

sub config_preamble ($) {
    $ConfigPreamble = shift;
}

sub timeout (@) {
    $Timeout = shift if @_;
    return $Timeout;
}

sub sleep_time () {
    return $TestNginxSleep;
}

sub verbose () {
    return $Verbose;
}

sub server_addr (@) {
    $ServerAddr = shift if @_;
    return $ServerAddr;
}

sub server_name (@) {
    $ServerName = shift if @_;
    return $ServerName;
}

sub server_port (@) {
    $ServerPort = shift if @_;
    return $ServerPort;
}

sub server_port_for_client (@) {
    $ServerPortForClient = shift if @_;
    return $ServerPortForClient;
}

sub html_dir () {
    return $HtmlDir;
}

sub server_root () {
    return $ServRoot;
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" if !@_;

    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            croak "env_to_nginx: bad argument value: $v\n";
        }

        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) {
    unshift @BlockPreprocessors, shift;
}

sub add_cleanup_handler ($) {
    unshift @CleanupHandlers, shift;
}

sub add_test_cleanup_handler ($) {
    unshift @TestCleanupHandlers, shift;
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }

    if ($NoLongString) {
        # Test::Base's is() prints a diff unless no_diff() was called.
        return Test::Base::is($got, $expected, $desc);
    }

    return Test::LongString::is_string($got, $expected, $desc);
}


# Helpers.

sub parse_time ($) {
    my $tm = shift;

    return undef if !defined $tm;

    $tm =~ s/^\s+|\s+$//g;

    if ($tm =~ s/(\d)ms$/$1/) {
        return $tm / 1000;
    }

    $tm =~ s/(\d)s$/$1/;
    return $tm;
}

sub trim ($) {
    my $s = shift;

    return undef if !defined $s;

    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /g;
    $s =~ s/\s{2,}/ /g;
    return $s;
}

# "Name: value" lines to a hash; "!Name" (or a line without a colon) maps
# to undef, meaning "must be absent".
sub parse_headers ($) {
    my $s = shift;
    my %headers;

    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;

        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
            next;
        }

        my ($key, $val) = split /\s*:\s*/, $line, 2;
        $headers{$key} = $val;
    }

    return \%headers;
}

sub port_is_free ($) {
    my $port = shift;

    my $sock = IO::Socket::INET->new(
        LocalAddr => $ServerAddr,
        LocalPort => $port,
        Proto     => 'tcp',
        Listen    => 1,
        ReuseAddr => 1,
    );

    return 0 if !$sock;

    close $sock;
    return 1;
}

sub gen_rand_port (;$$) {
    my ($tries, $used) = @_;

    $tries //= 1000;
    $used //= {};

    for (1 .. $tries) {
        my $port = 1988 + int rand(65535 - 1988);
        next if $used->{$port};
        return $port if port_is_free($port);
    }

    return undef;
}

sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;

    return undef if !defined $text;

    if (ref $text) {
        if (ref $text eq 'ARRAY') {
            return [map { expand_env_in_text($_, $name, $rand_ports) }
                    @$text];
        }

        return $text;
    }

    $rand_ports //= $RandPorts;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;

        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = ($ServerPort => 1,
                            map { $_ => 1 } values %$rand_ports);
                my $port = gen_rand_port(1000, \%used);
                if (!defined $port) {
                    bail_out("$name - Cannot find an available listening "
                             . "port number for $var.\n");
                }

                $rand_ports->{$var} = $port;
            }

            $val = $rand_ports->{$var};

        } else {
            if (!defined $ENV{$var}) {
                bail_out("$name - No environment $var defined.\n");
            }

            $val = $ENV{$var};
        }

        $val;
    }ge;

    return $text;
}

sub find_binary ($) {
    my $bin = shift;

    if ($bin =~ m{/}) {
        return -x $bin ? $bin : undef;
    }

    for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/sbin',
                 '/usr/local/sbin', '/usr/local/nginx/sbin')
    {
        next if !$dir;
        my $path = "$dir/$bin";
        return $path if -f $path && -x $path;
    }

    return undef;
}

sub get_nginx_version () {
    my $bin = find_binary($NginxBinary);

    return undef if !$bin;

    $NginxBinary = $bin;

    $NginxV = `'$bin' -V 2>&1`;

    if ($NginxV =~ m{(?:nginx|openresty)/(\d+)\.(\d+)\.(\d+)}) {
        $NginxRawVersion = "$1.$2.$3";
        $NginxVersion = canon_version($1, $2, $3);
    }

    if ($NginxV =~ /built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z]?)/) {
        $OpenSSLVersion = canon_version($1, $2, $3)
                          + ($4 ? (ord($4) - ord('a') + 1) / 1e12 : 0);
    }

    return $NginxVersion;
}

sub canon_version (@) {
    sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub slurp ($) {
    my $file = shift;

    open my $in, '<', $file or return undef;
    binmode $in;
    local $/;
    my $data = <$in>;
    close $in;

    return $data;
}


# The server root and nginx.conf.

sub setup_server_root () {
    if (-d $ServRoot) {
        # Remove only what we create, in case TEST_NGINX_SERVROOT points
        # somewhere unexpected.
        remove_tree($ConfDir, $HtmlDir, $LogDir, $StderrFile,
                    glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"),
                    File::Spec->catfile($ServRoot, 'cache'));
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to mkdir $dir: $!\n");
    }

    my $index = File::Spec->catfile($HtmlDir, 'index.html');
    open my $out, '>', $index
        or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;

    my $name = $block->name;
    my $files = $block->user_files;

    return if !$files;

    if (!ref $files) {
        my @list;
        my $cur;

        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+?))?\s*$/) {
                $cur = [$1, undef, $2];
                push @list, $cur;
                next;
            }

            next if !$cur;
            $cur->[1] .= $line;
        }

        $files = \@list;

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;

        $body //= '';
        $body = expand_env_in_text($body, $name, $rand_ports);

        my $path = $fname =~ m{^/} ? $fname
                   : File::Spec->catfile($HtmlDir, $fname);

        if ($path =~ m{^(.*)/[^/]+$} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }

        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - Failed to set the mtime of $path\n");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config // '', $name,
                                         $rand_ports);
    my $main_config = expand_env_in_text($block->main_config // '', $name,
                                         $rand_ports);
    my $post_main_config = expand_env_in_text($block->post_main_config // '',
                                              $name, $rand_ports);
    my $err_log_file = expand_env_in_text($block->error_log_file
                                          || $ErrLogFile, $name, $rand_ports);
    my $log_level = $block->log_level || $LogLevel;
    my $access_log = $AccLogFile;

    if ($CheckLeak) {
        # as documented for the "check leak" mode
        $log_level = 'warn';
        $access_log = 'off';
    }
    my $server_name = $block->server_name // $ServerName;

    $config //= '';

    if ($FilterHttpConfig) {
        $http_config = $FilterHttpConfig->($http_config);
    }

    (my $quoted_server_name = $server_name) =~ s/(['\\])/\\$1/g;

    my $load_modules = '';
    if ($LoadModules) {
        $load_modules = join '', map { "load_module $_;\n" }
                                 grep { length } split /\s+/, $LoadModules;
    }

    my $env = '';
    for my $v (qw(MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
                  LD_PRELOAD LD_LIBRARY_PATH ASAN_OPTIONS UBSAN_OPTIONS
                  LSAN_OPTIONS MOCKNOEAGAIN_VERBOSE MOCKNOEAGAIN),
               @EnvToNginx)
    {
        $env .= $v =~ /\s/ ? "env '$v';\n" : "env $v;\n";
    }

    # as root, workers run as root too (as Test::Nginx does): a checkout
    # under a 0700 directory (mktemp -d) is then still readable to them
    my $user = '';
    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";

    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    # Keep every temporary path inside the server root; the compiled-in
    # defaults may point to directories that do not exist.
    my $temp = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        next if $t =~ /^(?:fastcgi|uwsgi|scgi)$/
                && ($NginxV // '') =~ /--without-http_${t}_module/;
        $temp .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $postpone = '';
    if (defined $PostponeOutput && $PostponeOutput ne ''
        && $http_config !~ /\bpostpone_output\b/)
    {
        if ($PostponeOutput !~ /^\d+$/) {
            bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $PostponeOutput\n");
        }

        $postpone = "    postpone_output $PostponeOutput;\n";
    }

    my $root_location = '';
    if (!$NoRootLocation) {
        $root_location = <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }

    my $use_event = $EventType ? "    use $EventType;\n" : '';

    my $conf = <<"_EOC_";
# generated by the compat Test::Nginx runner (t/compat) for $name
$load_modules
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $log_level;
pid       $PidFile;
$env$user
$main_config

http {
    access_log $access_log;
$temp$postpone
    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config

    server {
        listen          $ServerPort;
        server_name     '$quoted_server_name';
        client_max_body_size 30M;

$ConfigPreamble
        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
$use_event}
_EOC_

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    # a block's own "user" wins over ours
    my $users = () = $conf =~ /^\s*user\s/mg;
    $conf =~ s/^user root;\n//m if $users > 1;

    print $out $conf;
    close $out;
}


# nginx processes.

sub get_pid_from_pidfile ($) {
    my $name = shift;

    my $pid = slurp($PidFile);
    return undef if !defined $pid;

    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# A zombie counts as gone: the process that reaps orphans here may not.
sub is_running ($) {
    my $pid = shift;

    return 0 if !$pid;

    if (defined $ValgrindPid && $pid == $ValgrindPid) {
        waitpid($pid, WNOHANG);
    }

    return 0 if !kill(0, $pid);

    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in>;
        close $in;
        return 0 if defined $stat && $stat =~ /^\d+ \(.*\) Z/s;
    }

    return 1;
}

sub wait_gone ($$) {
    my ($pid, $secs) = @_;

    my $deadline = time + $secs;

    while (is_running($pid)) {
        return 0 if time >= $deadline;
        sleep 0.01;
    }

    return 1;
}

# QUIT, then TERM, then KILL; never hang.
sub kill_nginx ($$) {
    my ($pid, $name) = @_;

    return if !is_running($pid);

    my $grace = $UseValgrind ? 30 : ($ENV{TEST_NGINX_FAST_SHUTDOWN} ? 0 : 3);

    if ($grace) {
        kill 'QUIT', $pid;
        return if wait_gone($pid, $grace);
        warn "$name - timeout when waiting for nginx $pid to quit\n";
    }

    kill 'TERM', $pid;
    return if wait_gone($pid, 1);

    warn "$name - WARNING: killing nginx $pid with force\n";
    my $pgrp = getpgrp($pid);
    kill 'KILL', (defined $pgrp && $pgrp == $pid) ? -$pid : $pid;
    wait_gone($pid, 1);
}

# Only signal a pid from the pid file if it still is a nginx (or valgrind
# running one): a stale file may name a reused pid.
sub looks_like_nginx ($) {
    my $pid = shift;

    open my $in, '<', "/proc/$pid/cmdline" or return 1;
    local $/;
    my $cmd = <$in> // '';
    close $in;

    return $cmd =~ /nginx|valgrind|memcheck/;
}

sub stop_nginx ($) {
    my $name = shift;

    my $pid = get_pid_from_pidfile($name);

    if ($pid && !looks_like_nginx($pid)) {
        warn "WARNING: $name - stale pid file $PidFile (pid $pid is not "
             . "nginx)\n";
        undef $pid;
    }

    if (!$pid && defined $ValgrindPid) {
        $pid = $ValgrindPid;
    }

    # what nginx logs while exiting (sanitizer leak reports, crashes) is
    # checked by Test::Nginx::Socket through this hook
    my $log_size = -s $ErrLogFile;

    if ($pid) {
        kill_nginx($pid, $name);
    }

    if (defined $ValgrindPid) {
        kill_nginx($ValgrindPid, $name);
        waitpid($ValgrindPid, 0);
        undef $ValgrindPid;
    }

    unlink $PidFile if -f $PidFile;
    undef $NginxStarted;

    if ($pid && defined $log_size && $ShutdownLogCheck) {
        $ShutdownLogCheck->($log_size);
    }

    # Workers outlive a master killed the hard way only if something went
    # badly wrong; wait a little for the port all the same.
    my $deadline = time + 1;
    while (port_is_listening($ServerPort)) {
        if (time > $deadline) {
            warn "WARNING: $name - port $ServerPort is still in use\n";
            last;
        }
        sleep 0.01;
    }
}

sub port_is_listening ($) {
    my $port = shift;

    my $hex = sprintf '%04X', $port;

    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        while (my $line = <$in>) {
            # sl local_address rem_address st; st 0A is LISTEN
            if ($line =~ /^\s*\d+:\s+[0-9A-F]+:$hex\s+\S+\s+0A\s/) {
                close $in;
                return 1;
            }
        }
        close $in;
    }

    return 0;
}

sub valgrind_command () {
    my @cmd;

    if ($UseValgrind =~ /^\d+$/) {
        @cmd = (qw(valgrind --num-callers=100 -q --tool=memcheck
                   --leak-check=full --keep-debuginfo=yes
                   --show-possibly-lost=no --gen-suppressions=all));

        if ($ENV{TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR}) {
            push @cmd, '--exit-on-first-error=yes', '--error-exitcode=1';
        }

        if (-f 'valgrind.suppress') {
            push @cmd, '--suppressions=valgrind.suppress';
        }

    } else {
        @cmd = ('valgrind', '-q', split(' ', $UseValgrind));
    }

    return @cmd;
}

# Starts nginx for the current block.  Returns the wait status of the nginx
# command (0 on success); in valgrind mode nginx runs in the foreground as
# our child, with its stderr (the valgrind reports) captured.
sub start_nginx ($$) {
    my ($block, $must_die) = @_;

    my $name = $block->name;

    if (!find_binary($NginxBinary)) {
        bail_out("$name - Cannot find the nginx executable "
                 . "(TEST_NGINX_BINARY=$NginxBinary)");
    }

    my @cmd = ($NginxBinary);
    if (!defined $NginxVersion || $NginxVersion >= 1.019005) {
        # -e: errors while reading the configuration go to our error log
        push @cmd, '-e', $ErrLogFile;
    }
    push @cmd, '-p', "$ServRoot/", '-c', $ConfFile;

    local $ENV{LD_PRELOAD} = $ENV{LD_PRELOAD};
    if (defined $ENV{TEST_NGINX_LD_PRELOAD}) {
        $ENV{LD_PRELOAD} = join ' ', grep { defined && length }
                           $ENV{TEST_NGINX_LD_PRELOAD}, $ENV{LD_PRELOAD};
    }

    my $quiet = defined $block->suppress_stderr;

    if ($Verbose) {
        warn "$name - starting nginx: @cmd\n";
    }

    if ($UseValgrind && !defined $must_die) {
        unshift @cmd, valgrind_command();

        warn "$name\n";

        my $pid = fork();
        bail_out("$name - fork() failed: $!") if !defined $pid;

        if ($pid == 0) {
            setpgrp(0, 0);
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', $StderrFile;
            exec @cmd or POSIX::_exit(127);
        }

        $ValgrindPid = $pid;

        my $deadline = time + 60;
        while (time < $deadline) {
            if (waitpid($pid, WNOHANG) == $pid) {
                my $status = $?;
                undef $ValgrindPid;
                print STDERR slurp($StderrFile) // '';
                return $status || 1;
            }

            if (port_is_listening($ServerPort) && -s $PidFile) {
                $NginxStarted = $pid;
                return 0;
            }

            sleep 0.02;
        }

        bail_out("$name - nginx under valgrind did not start listening "
                 . "on port $ServerPort in time");
    }

    my $pid = fork();
    bail_out("$name - fork() failed: $!") if !defined $pid;

    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        if ($quiet) {
            open STDERR, '>', '/dev/null';
        }
        exec @cmd or POSIX::_exit(127);
    }

    waitpid($pid, 0);
    my $status = $?;

    return $status if $status != 0 || defined $must_die;

    # The daemon writes its pid file right after forking; the listening
    # socket already exists by then.
    my $deadline = time + 5;
    while (!-s $PidFile) {
        if (time > $deadline) {
            bail_out("$name - nginx did not write its pid file $PidFile");
        }
        sleep 0.005;
    }

    $NginxStarted = get_pid_from_pidfile($name);

    if ($DaemonEnabled eq 'off') {
        # "daemon off" without valgrind: the command above returned, so it
        # is not running any more.
        undef $NginxStarted;
    }

    return 0;
}

# The error log (or the part of it written since the last call).
sub error_log_data () {
    sleep $TestNginxSleep;

    open my $in, '<', $ErrLogFile or return [];

    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }

    my @lines = <$in>;

    if (!$CheckAccumErrLog) {
        $ErrLogFilePos = tell $in;
    }

    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep;

    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}


# The embedded TCP server (tcp_listen, tcp_reply, tcp_query).

sub tcp_server_start ($$) {
    my ($block, $rand_ports) = @_;

    my $name = $block->name;
    my $target = expand_env_in_text($block->tcp_listen, $name, $rand_ports);
    $target =~ s/^\s+|\s+$//g;

    my $reply = $block->tcp_reply;
    if (!defined $reply && !defined $block->tcp_shutdown) {
        bail_out("$name - no --- tcp_reply specified but --- tcp_listen "
                 . "is specified");
    }

    my $req_len = $block->tcp_query_len;
    my $query_file;

    if (defined $block->tcp_query || defined $req_len) {
        $req_len //= length $block->tcp_query;
        (undef, $query_file) = File::Temp::tempfile('tcp-query-XXXXXX',
                                                    TMPDIR => 1,
                                                    UNLINK => 1);
        unlink $query_file;
    }

    my ($sock, $err);
    my $deadline = time + 3;

    while (1) {
        if ($target =~ /^\d+$/) {
            $sock = IO::Socket::INET->new(
                LocalAddr => '127.0.0.1',
                LocalPort => $target,
                Proto     => 'tcp',
                ReuseAddr => 1,
                Listen    => 5,
            );

        } elsif ($target =~ /\S+\.sock$/) {
            unlink $target if -e $target;
            $sock = IO::Socket::UNIX->new(
                Local  => $target,
                Type   => SOCK_STREAM,
                Listen => 5,
            );

        } else {
            bail_out("$name - bad tcp_listen target: $target");
        }

        last if $sock;

        $err = $!;
        last if $err !~ /in use/i || time > $deadline;
        sleep 0.05;
    }

    if (!$sock) {
        bail_out("$name - failed to create the tcp listening socket "
                 . "$target: $err");
    }

    my $pid = fork();
    bail_out("$name - fork() failed: $!") if !defined $pid;

    if ($pid == 0) {
        $InSubprocess = 1;
        Test::More->builder->no_ending(1);
        # never let an error here return into the parent's test code
        eval {
            tcp_server_child($block, $sock, $reply, $req_len, $query_file);
        };
        warn "WARNING: $name - tcp server: $@" if $@;
        POSIX::_exit(0);
    }

    $TcpServerPid = $pid;

    return ($sock, $query_file, $target);
}

sub tcp_server_child {
    my ($block, $sock, $reply, $req_len, $query_file) = @_;

    my $name = $block->name;

    $SIG{TERM} = sub { POSIX::_exit(0) };
    $SIG{PIPE} = 'IGNORE';

    my $client;
    while (!$client) {
        $client = $sock->accept();
        sleep 0.005 if !$client;
    }

    my ($no_read, $no_write);

    if (defined $block->tcp_shutdown) {
        my $how = $block->tcp_shutdown;
        sleep(parse_time($block->tcp_shutdown_delay) || 0);
        $client->shutdown($how);
        if ($how == 0 || $how == 2) {
            $no_read = 1;
        }
        if ($how == 1 || $how == 2) {
            $no_write = 1;
        }
    }

    my $buf = '';

    if (!$no_read) {
        my $auto = $block->tcp_query_auto_timeout;
        my $idle = (defined $auto && $auto ne '') ? $auto + 0 : 0.1;
        my $sel = IO::Select->new($client);

        while (1) {
            if (defined $auto && !$sel->can_read($idle)) {
                last;
            }

            my $data;
            my $n = sysread($client, $data, 4096);
            last if !$n;

            $buf .= $data;

            if ($query_file) {
                # write, then rename: the parent never sees a partial file
                if (open my $out, '>', "$query_file.tmp") {
                    binmode $out;
                    print $out $buf;
                    close $out;
                    rename "$query_file.tmp", $query_file;
                }
            }

            next if defined $auto;
            last if !$req_len || length($buf) >= $req_len;
        }
    }

    my $delay = parse_time($block->tcp_reply_delay);
    sleep $delay if $delay;

    if (!$no_write && defined $reply) {
        if (ref $reply eq 'CODE') {
            $reply = $reply->($buf);
        }

        for my $chunk (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
            next if !defined $chunk;
            my $off = 0;
            while ($off < length $chunk) {
                my $n = syswrite($client, $chunk, length($chunk) - $off, $off);
                if (!defined $n) {
                    warn "WARNING: $name - tcp server failed to send "
                         . "reply: $!\n";
                    last;
                }
                $off += $n;
            }
        }
    }

    if (defined $block->tcp_no_close) {
        sleep 1 while 1;
    }

    close $client;
    close $sock;
}

sub tcp_server_stop ($$) {
    my ($sock, $target) = @_;

    if (defined $TcpServerPid) {
        kill 'TERM', $TcpServerPid;
        my $deadline = time + 2;
        while (waitpid($TcpServerPid, WNOHANG) == 0) {
            if (time > $deadline) {
                kill 'KILL', $TcpServerPid;
                waitpid($TcpServerPid, 0);
                last;
            }
            sleep 0.005;
        }
        undef $TcpServerPid;
    }

    close $sock if $sock;

    if (defined $target && $target =~ /\.sock$/) {
        unlink $target;
    }
}


# Global cleanup (also from bail_out and END).

sub cleanup () {
    return if $InSubprocess;

    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }

    if (defined $TcpServerPid) {
        tcp_server_stop(undef, undef);
    }
}

END {
    if (!$InSubprocess) {
        local $?;

        cleanup();

        if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
            if (-f $PidFile || defined $ValgrindPid) {
                stop_nginx('END');
            }
        }

        if ($Randomize && $ServRoot =~ m{/t/servroot_\d+$}
            && !$ENV{TEST_NGINX_NO_CLEAN})
        {
            remove_tree($ServRoot);
        }
    }
}

1;
