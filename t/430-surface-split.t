# Whole versus split for the Responses and Gemini-native surfaces
# (t/unit/surface_split.c, built by "make unit"): every recorded stream of
# OpenAI, Anthropic, Gemini and Bedrock (binary event-stream frames) in
# t/fixtures, translated into the
# Responses typed events and into Gemini's streamGenerateContent events,
# must give the same bytes whole, split in two at every byte boundary and
# fed one byte at a time.  Streams larger than 16 KB are split every
# STRIDE bytes (STRIDE keeps a file under ~10^8 bytes of work) and
# still fed one byte at a time.

use strict;
use warnings;

use Test::More;
use File::Find;
use File::Temp qw(tempfile);

my $bin = ($ENV{LLM_UNIT_DIR} || 'build/unit') . '/surface_split';

plan skip_all => "$bin is not built (make unit)" unless -x $bin;

my $fix = 't/fixtures';

sub slurp {
    my $path = shift;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    return <$fh>;
}

# one SSE file per stream; chunks.txt (one payload a line) made SSE

sub sse_file {
    my ($provider, $path) = @_;

    return $path if $path =~ /\.(?:sse|eventstream\.bin)\z/;

    my $sse = '';

    for my $line (split /\n/, slurp($path)) {
        next unless length $line;

        if ($provider eq 'anthropic') {
            my ($type) = $line =~ /"type"\s*:\s*"([^"]+)"/;
            $sse .= "event: $type\n" if $type;
            $sse .= "data: $line\n\n";

        } elsif ($provider eq 'gemini') {
            $sse .= "data: $line\r\n\r\n";

        } else {
            $sse .= "data: $line\n\n";
        }
    }

    $sse .= "data: [DONE]\n\n" if $provider eq 'openai';

    my ($fh, $name) = tempfile(UNLINK => 1);
    binmode $fh;
    print $fh $sse;
    close $fh;

    return $name;
}

my %streams = (openai => [], anthropic => [], gemini => [], bedrock => []);

find({ no_chdir => 1, wanted => sub {
    my $f = $File::Find::name;

    return unless -f $f && $f =~ /\.(?:sse|chunks\.txt|eventstream\.bin)\z/;

    if ($f =~ /\.eventstream\.bin\z/) {
        push @{ $streams{bedrock} }, $f;
        return;
    }

    if ($f =~ m{envoyproxy-ai-gateway/chat-streaming|test_openai/|test_deepseek/|test_mistral/|openai-compatible/src/chat/|packages/openai/src/chat/}) {
        push @{ $streams{openai} }, $f;

    } elsif ($f =~ m{test_anthropic/|packages/anthropic/src/}) {
        push @{ $streams{anthropic} }, $f;

    } elsif ($f =~ m{test_google/|packages/google/src/}) {
        push @{ $streams{gemini} }, $f;
    }
} }, $fix);

my ($files, $splits) = (0, 0);

for my $provider (sort keys %streams) {
    for my $f (sort @{ $streams{$provider} }) {
        my $sse = sse_file($provider, $f);
        my $n = -s $sse;
        my $stride = $n <= 16384 ? 1 : int($n * $n / 1e8) + 1;

        for my $surface (qw(responses gemini)) {
            my $out = `$bin $provider $surface $sse $stride 2>&1`;
            my $rel = $f =~ s{^\Q$fix\E/}{}r;

            if ($out =~ /\Aok (\d+) splits/) {
                $splits += $1;
                pass("$provider $surface $rel: $1 splits"
                     . ($stride > 1 ? ", every $stride bytes" : ''));
            } else {
                fail("$provider $surface $rel");
                diag(substr($out, 0, 4000));
            }

            $files++;
        }
    }
}

ok($files >= 40, "$files translations of recorded streams, $splits runs");

done_testing();
