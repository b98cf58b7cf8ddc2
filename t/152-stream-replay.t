# Every recorded stream in t/fixtures from Anthropic, Gemini, Bedrock and
# OpenAI-format providers (OpenAI, Azure, DeepSeek, Groq, Mistral, xAI...)
# translated to the OpenAI chat surface and to the Anthropic Messages
# surface, outside nginx (t/unit/stream_replay.c, built by "make unit"):
# the output of the whole stream and of the stream cut into pieces must
# be the same bytes.  Raw recordings (*.sse, *.eventstream.bin) are
# replayed as they are; "*.chunks.txt" files (one payload a line) are
# framed first the way their provider sends them: Anthropic "event:" +
# "data:", OpenAI "data:" + [DONE], Gemini "data:" with CRLF CRLF, Bedrock
# as AWS event-stream binary frames (CRC-32s computed here).
#
# LLM_REPLAY_LIMIT (default 2048): files up to that many bytes are split
# in two at every offset; bigger ones at every offset of their first and
# last LIMIT/2 bytes, plus runs in 256-byte pieces whose first piece is
# 1..256 bytes long (every offset a cut once), plus byte by byte.
# LLM_REPLAY_LIMIT=0 splits every file at every offset (slow: O(N^2)).

use strict;
use warnings;

use Test::More;
use File::Find;
use Compress::Zlib qw(crc32);

my $bin = ($ENV{LLM_UNIT_DIR} || 'build/unit') . '/stream_replay';

plan skip_all => "$bin is not built (make unit)" unless -x $bin;

my $limit = $ENV{LLM_REPLAY_LIMIT} // 2048;
my $tmp = 't/servroot-replay';
system("rm -rf $tmp");
mkdir $tmp or die "$tmp: $!";

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

# one AWS event-stream frame: string headers, a JSON payload

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
    my $msg = $prelude . pack('N', crc32($prelude)) . $h . $payload;

    return $msg . pack('N', crc32($msg));
}

sub provider_of {
    my ($file, $body) = @_;

    return 'bedrock' if $file =~ m{amazon-bedrock|test_bedrock};
    return 'anthropic' if $file =~ m{/anthropic/|test_anthropic};
    return 'gemini' if $file =~ m{/google/|test_google|google-vertex};
    return 'openai' if $body =~ /"chat\.completion\.chunk"/;
    return undef;   # Responses, legacy completions: not chat streams
}

sub frame {
    my ($prov, $all) = @_;

    my @lines = grep { length } split /\r?\n/, $all;

    if ($prov eq 'anthropic') {
        return join '', map {
            my ($t) = /"type"\s*:\s*"([^"]+)"/;
            "event: $t\ndata: $_\n\n"
        } @lines;
    }

    if ($prov eq 'gemini') {
        return join '', map { "data: $_\r\n\r\n" } @lines;
    }

    if ($prov eq 'bedrock') {
        return join '', map {
            my ($event, $payload) = /^\{\s*"([^"]+)"\s*:\s*(.*)\}\s*$/s;
            es_frame($event, $payload)
        } @lines;
    }

    return join('', map { "data: $_\n\n" } @lines) . "data: [DONE]\n\n";
}

my @files;

find(sub {
         push @files, $File::Find::name
             if /\.(sse|chunks\.txt|eventstream\.bin)$/;
     }, 't/fixtures');

my (%by, $n, $bytes);

for my $file (sort @files) {
    my $body = slurp($file);
    my $prov = provider_of($file, $body);

    next unless defined $prov;

    my $path = $file;

    if ($file =~ /\.chunks\.txt$/) {
        ($path = $file) =~ s{^t/fixtures/}{};
        $path =~ s{/}{__}g;
        $path = "$tmp/$path.$prov";

        open my $fh, '>:raw', $path or die "$path: $!";
        print $fh frame($prov, $body);
        close $fh;
    }

    push @{ $by{$prov} }, [$file, $path];
    $n++;
    $bytes += -s $path;
}

for my $prov (qw(openai anthropic gemini bedrock)) {
    ok(@{ $by{$prov} // [] } >= 3,
       scalar(@{ $by{$prov} // [] }) . " recorded $prov streams");
}

my ($runs, $splits) = (0, 0);

for my $prov (sort keys %by) {
    my @paths = map { $_->[1] } @{ $by{$prov} };
    my $out = `$bin -x $limit -m 256 $prov @paths 2>&1`;

    is($? >> 8, 0, "$prov: every stream, whole and split, the same")
        or diag(substr($out, 0, 20000));

    for my $f (@{ $by{$prov} }) {
        my ($file, $path) = @$f;
        my $short = $file =~ s{^t/fixtures/}{}r;

        for my $surf (qw(openai anthropic)) {
            my ($line) = $out =~ /^(ok \Q$path\E $surf: .*)$/m;
            ok(defined $line, "$short -> $surf surface");

            if (defined $line) {
                my ($s, $r) = $line =~ /(\d+) two-piece splits, (\d+) runs/;
                $splits += $s;
                $runs += $r;
            }
        }
    }
}

diag("$n recorded streams, $bytes bytes, x2 surfaces: $splits two-piece "
     . "splits, $runs translations in all (LLM_REPLAY_LIMIT=$limit)");

system("rm -rf $tmp");

done_testing();
