package org.panamasd.models.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's byte-level BPE tokenizer (Radford et al. 2021), as transformers' CLIPTokenizer with ftfy: fix the
 * text, collapse whitespace, lower-case, split into special tokens, contractions, letter runs, single digits
 * and other symbol runs, map UTF-8 bytes to printable characters, apply the merges, and mark word ends with
 * {@code </w>}.
 */
public final class CLIPTokenizer {
    public static final String START = "<|startoftext|>", END = "<|endoftext|>";
    private static final Pattern SPLIT = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final String[] BYTE_TO_CHAR = byteEncoder();

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> mergeRanks;
    /** Words met and their BPE tokens, bounded: a service tokenizes whatever words its users send. */
    private final Cache<String, String[]> cache;
    static final int CACHED_WORDS = 10_000;
    private final int startId, endId;
    private final String padToken;
    private final int padId;

    public CLIPTokenizer(Map<String, Integer> vocab, List<String> merges) {
        this(Map.copyOf(vocab), ranks(merges), Caffeine.newBuilder().maximumSize(CACHED_WORDS).<String, String[]>build(), END);
    }

    private CLIPTokenizer(Map<String, Integer> vocab, Map<String, Integer> mergeRanks, Cache<String, String[]> cache, String padToken) {
        this.vocab = vocab;
        this.mergeRanks = mergeRanks;
        this.cache = cache;
        this.startId = id(START);
        this.endId = id(END);
        this.padToken = padToken;
        this.padId = id(padToken);
    }

    private static Map<String, Integer> ranks(List<String> merges) {
        Map<String, Integer> ranks = new HashMap<>();
        for (int i = 0; i < merges.size(); i++) ranks.put(merges.get(i), i);
        return ranks;
    }

    /**
     * The same tokenizer padding with another token, as SD 2.x and SDXL's second tokenizer pad with "!" (id 0).
     * Like transformers, the pad token becomes a special token: where it appears in a prompt it is its own token.
     */
    public CLIPTokenizer withPadToken(String token) {
        return new CLIPTokenizer(vocab, mergeRanks, cache, token);
    }

    /** Words in the BPE cache now (at most {@link #CACHED_WORDS}, give or take the cache's pending evictions). */
    long cachedWords() {
        cache.cleanUp();
        return cache.estimatedSize();
    }

    public int padId() {
        return padId;
    }

    /** A diffusers / transformers tokenizer directory: vocab.json and merges.txt. */
    public static CLIPTokenizer load(Path directory) {
        try {
            JsonNode json = new ObjectMapper().readTree(directory.resolve("vocab.json").toFile());
            Map<String, Integer> vocab = new HashMap<>();
            json.properties().forEach(e -> vocab.put(e.getKey(), e.getValue().asInt()));
            List<String> merges = new ArrayList<>();
            for (String line : Files.readAllLines(directory.resolve("merges.txt"), StandardCharsets.UTF_8)) {
                if (line.startsWith("#version") || line.isBlank()) continue;
                merges.add(line.strip());
            }
            CLIPTokenizer tokenizer = new CLIPTokenizer(vocab, merges);
            String pad = configuredPadToken(directory);
            return pad == null ? tokenizer : tokenizer.withPadToken(pad);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokenizer in " + directory + " (vocab.json, merges.txt)", e);
        }
    }

    /** pad_token from special_tokens_map.json or tokenizer_config.json (a string or {"content": ...}), if any. */
    private static String configuredPadToken(Path directory) throws IOException {
        for (String name : List.of("special_tokens_map.json", "tokenizer_config.json")) {
            Path file = directory.resolve(name);
            if (!Files.exists(file)) continue;
            JsonNode pad = new ObjectMapper().readTree(file.toFile()).get("pad_token");
            if (pad != null && pad.isTextual()) return pad.textValue();
            if (pad != null && pad.has("content")) return pad.get("content").asText();
        }
        return null;
    }

    private int id(String token) {
        Integer id = vocab.get(token);
        if (id == null) throw new IllegalArgumentException("the vocabulary has no token '" + token + "'");
        return id;
    }

    public int startId() {
        return startId;
    }

    public int endId() {
        return endId;
    }

    /** The token strings of a prompt, without start and end tokens. */
    public List<String> tokens(String text) {
        String clean = WHITESPACE.matcher(TextFixer.fix(text)).replaceAll(" ").strip().toLowerCase(java.util.Locale.ROOT);
        List<String> tokens = new ArrayList<>();
        Matcher m = SPLIT.matcher(clean);
        while (m.find()) {
            String piece = m.group();
            if (piece.equals(START) || piece.equals(END)) {
                tokens.add(piece);
                continue;
            }
            StringBuilder mapped = new StringBuilder();
            for (byte b : piece.getBytes(StandardCharsets.UTF_8)) mapped.append(BYTE_TO_CHAR[b & 0xff]);
            tokens.addAll(Arrays.asList(cache.get(mapped.toString(), this::bpe)));
        }
        return tokens;
    }

    /** The ids of a prompt, without start and end tokens. */
    public int[] encode(String text) {
        return tokens(text).stream().mapToInt(this::id).toArray();
    }

    /** The ids of a prompt with the pad token as a special token (see {@link #withPadToken}), without start and end. */
    private int[] encodeWithPadToken(String text) {
        if (padToken.equals(END) || padToken.equals(START)) return encode(text);
        List<Integer> ids = new ArrayList<>();
        int from = 0;
        for (int at = text.indexOf(padToken); at >= 0; at = text.indexOf(padToken, from)) {
            for (int id : encode(text.substring(from, at))) ids.add(id);
            ids.add(padId);
            from = at + padToken.length();
        }
        for (int id : encode(text.substring(from))) ids.add(id);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** [start] + ids + [end], truncated to {@code length} (the last kept as end) and padded with the pad token. */
    public long[] inputIds(String text, int length) {
        return row(encodeWithPadToken(text), length, padId);
    }

    /**
     * As openai's clip.tokenize: [start] + ids + [end], truncated to {@code length} and padded with
     * {@code padId}, with no special pad token.
     */
    public long[] inputIds(String text, int length, int padId) {
        return row(encode(text), length, padId);
    }

    /** {@link #inputIds(String, int)} of several texts, row after row: (texts.length x length) values. */
    public long[] inputIds(String[] texts, int length) {
        long[] ids = new long[texts.length * length];
        for (int i = 0; i < texts.length; i++) System.arraycopy(inputIds(texts[i], length), 0, ids, i * length, length);
        return ids;
    }


    private long[] row(int[] ids, int length, int padId) {
        long[] row = new long[length];
        Arrays.fill(row, padId);
        row[0] = startId;
        int kept = Math.min(ids.length, length - 2);
        for (int i = 0; i < kept; i++) row[i + 1] = ids[i];
        row[kept + 1] = endId;
        return row;
    }

    /** 1 for the start, the prompt's tokens and the end token; 0 for padding. */
    public long[] attentionMask(String text, int length) {
        long[] mask = new long[length];
        Arrays.fill(mask, 0, Math.min(length, encodeWithPadToken(text).length + 2), 1);
        return mask;
    }

    /** Applies the merges, lowest rank first, to one pre-token; the last symbol carries the word end. */
    private String[] bpe(String token) {
        List<String> word = new ArrayList<>();
        int[] codePoints = token.codePoints().toArray();
        for (int i = 0; i < codePoints.length; i++) {
            String symbol = new String(Character.toChars(codePoints[i]));
            word.add(i == codePoints.length - 1 ? symbol + "</w>" : symbol);
        }
        while (word.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE;
            for (int i = 0; i < word.size() - 1; i++) {
                Integer rank = mergeRanks.get(word.get(i) + " " + word.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) break;
            String first = word.get(best), second = word.get(best + 1);
            List<String> merged = new ArrayList<>(word.size());
            for (int i = 0; i < word.size(); i++) {
                if (i < word.size() - 1 && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(word.get(i));
                }
            }
            word = merged;
        }
        return word.toArray(String[]::new);
    }

    /** GPT-2's reversible map of the 256 byte values to printable characters. */
    private static String[] byteEncoder() {
        String[] table = new String[256];
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
            table[b] = new String(Character.toChars(printable ? b : 256 + extra++));
        }
        return table;
    }
}
