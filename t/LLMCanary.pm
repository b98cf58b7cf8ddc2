package t::LLMCanary;

# The canary of the whole suite: every provider key and client key the
# suites configure carries the marker "CANARY" (t/LLMCanary.pm's %Key
# holds the shared ones, the suites set theirs from it), so that a secret
# written where it must not be is found by one search, whatever the
# suite.  The searches:
#
#   - the compat runner (t/compat/Test/Nginx/Socket.pm) looks at every
#     response (status line, headers, body) of every block, and after
#     every block at every file under the server root's logs/ (error log
#     at the suites' level, debug by default, and every access log);
#   - t/LLMServer.pm does the same for the suites that start their own
#     nginx (every response parsed, the logs when it stops);
#   - t/999-canary.t, last, reads whatever logs the suite left under
#     t/servroot*/ and the file TEST_NGINX_ERROR_LOG names, if any.
#
# Besides the marker, the SHA-256 (hex and base64) and the URL-encoded
# form of every key in %Key and of those added with add() are searched,
# and so is every 12-character window of them that is not a run of the
# key's public prefix.  A hit fails a test named "no canary secret in
# ..." with where it was found, without printing the secret itself.
#
# nginx's own debug lines of the client's request headers ("http header:
# ...", --with-debug builds at the debug level only) are not the module's
# and are left out of the search: t/200-keys.t TEST 21 shows they are the
# only lines a key appears in.
#
# Some blocks send a canary on purpose where the marker then shows in a
# log they make themselves (a mock provider that writes the key it got
# into its own answer, to prove the key is sent): such a block says
# "--- canary_ok" and is not searched (its name is printed).
#
# With the real Test::Nginx (not the compat runner): t/LLMServer.pm's
# suites are searched completely; the block suites that configure canary
# keys say "use t::LLMCanary;", which hooks a response body check into
# the real runner (every response body, and the error log lines of every
# request, when that Test::Nginx has add_response_body_check and
# error_log_data); response headers and access logs are then searched only
# by t/999-canary.t, in what the last server root left and in
# TEST_NGINX_ERROR_LOG.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex sha256_base64);

our $Marker = $ENV{LLM_CANARY_MARKER} || 'CANARY';

# the suite's provider keys (through the environment) and client keys
our %Key = (
    openai    => 'sk-proj-CANARY-openai-7f3a9c1e5b2d4068',
    anthropic => 'sk-ant-api03-CANARY-anthropic-2c8e4a6f0b1d',
    gemini    => 'AIzaSy-CANARY-gemini-5e1d7c3b9a0f2468',
    azure     => 'azk-CANARY-azure-3b5d7f9a1c2e4068',
    bedrock   => 'wJalrXUtnFEMI/K7MDENG+CANARY/bedrockKEY',
    client    => 'sk-client-CANARY-8d6b4f2a0c1e3957',
);

my @Extra;

sub add {
    push @Extra, grep { defined && length } @_;
}

sub secrets {
    return (values %Key, @Extra);
}

# the needles: [ what, literal ]
sub needles {
    my @n = ([ 'the marker', $Marker ]);
    my %seen;

    for my $s (secrets()) {
        next if $seen{$s}++;

        (my $enc = $s) =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/eg;

        push @n, [ 'a SHA-256 (hex)', sha256_hex($s) ],
                 [ 'a SHA-256 (base64)', sha256_base64($s) ];
        push @n, [ 'a URL-encoded key', $enc ] if $enc ne $s;

        # windows after the public prefix ("sk-proj-", "AIzaSy-")
        my $start = index($s, $Marker);
        $start = 0 if $start < 0;

        for (my $i = $start; $i + 12 <= length $s; $i++) {
            push @n, [ 'a piece of a key', substr($s, $i, 12) ];
        }
    }

    return @n;
}

my @Needles;

# "use t::LLMCanary;" in a block suite: under the real Test::Nginx, every
# response body and the error log lines of every request are searched
# too (the compat runner does that and more by itself)
my $hooked;

sub import {
    return if $hooked++ || $Test::Nginx::Socket::LLMCompat;

    my $add = Test::Nginx::Socket->can('add_response_body_check') or return;

    $add->(sub {
        my ($block, $body, $req_idx, $rep, $dry_run) = @_;

        return if $dry_run || defined $block->canary_ok;

        my $log = '';

        if (my $data = Test::Nginx::Util->can('error_log_data')) {
            $log = join '', grep { !/\[debug\] \d+#\d+: \*\d+ http header: "/ }
                            @{ $data->() || [] };
        }

        for ([ 'the response body', $body ], [ 'the error log', $log ]) {
            my $hit = find($_->[1]) // next;
            Test::More::fail($block->name . " - no canary secret in "
                             . "$_->[0]: $hit");
        }
    });
}

# the first hit in $text: a description without the secret, or undef
sub find {
    my ($text) = @_;

    return undef if !defined $text || !length $text;

    @Needles = needles() if !@Needles || @Extra;

    for my $n (@Needles) {
        my $at = index($text, $n->[1]);

        next if $at < 0;

        my $line = 1 + (() = substr($text, 0, $at) =~ /\n/g);

        return "$n->[0] at line $line";
    }

    return undef;
}

# every regular file under $dir (logs/), from the offsets of %$pos on
sub scan_dir {
    my ($dir, $pos) = @_;
    my @hits;

    opendir my $dh, $dir or return ();

    for my $f (sort readdir $dh) {
        my $path = "$dir/$f";

        next if !-f $path || $f =~ /\.pid$/;

        my $size = -s $path;
        my $from = $pos ? ($pos->{$path} // 0) : 0;

        $from = 0 if $from > $size;

        open my $fh, '<', $path or next;
        binmode $fh;
        seek $fh, $from, 0;
        local $/;
        my $text = <$fh> // '';
        close $fh;

        $pos->{$path} = $size if $pos;

        # nginx's own debug lines of the request headers the client sent
        # (--with-debug and "debug" level only), outside the module
        $text =~ s/^[^\n]*\[debug\] \d+#\d+: \*\d+ http header: "[^\n]*\n//mg;

        if (my $hit = find($text)) {
            push @hits, "$f: $hit";
        }
    }

    closedir $dh;

    return @hits;
}

1;
