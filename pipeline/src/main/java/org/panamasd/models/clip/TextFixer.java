package org.panamasd.models.clip;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parts of ftfy's {@code fix_text} (which CLIP's tokenizers run first) that change token ids: HTML
 * entities (unless the text has a '<'), mojibake (UTF-8 read as Windows-1252), Latin ligatures, full-width
 * characters, curly quotes, control characters, and NFC normalisation; repeated until nothing changes.
 */
final class TextFixer {
    private static final Pattern ENTITY = Pattern.compile("&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});");
    private static final Map<String, String> ENTITIES = Map.ofEntries(
            Map.entry("amp", "&"), Map.entry("lt", "<"), Map.entry("gt", ">"), Map.entry("quot", "\""), Map.entry("apos", "'"),
            Map.entry("nbsp", "\u00a0"), Map.entry("copy", "\u00a9"), Map.entry("reg", "\u00ae"), Map.entry("trade", "\u2122"),
            Map.entry("hellip", "\u2026"), Map.entry("mdash", "\u2014"), Map.entry("ndash", "\u2013"), Map.entry("lsquo", "\u2018"),
            Map.entry("rsquo", "\u2019"), Map.entry("ldquo", "\u201c"), Map.entry("rdquo", "\u201d"), Map.entry("laquo", "\u00ab"),
            Map.entry("raquo", "\u00bb"), Map.entry("deg", "\u00b0"), Map.entry("middot", "\u00b7"), Map.entry("times", "\u00d7"),
            Map.entry("divide", "\u00f7"), Map.entry("euro", "\u20ac"), Map.entry("pound", "\u00a3"), Map.entry("yen", "\u00a5"),
            Map.entry("cent", "\u00a2"), Map.entry("sect", "\u00a7"), Map.entry("para", "\u00b6"), Map.entry("plusmn", "\u00b1"),
            Map.entry("frac12", "\u00bd"), Map.entry("frac14", "\u00bc"), Map.entry("frac34", "\u00be"), Map.entry("sup2", "\u00b2"),
            Map.entry("sup3", "\u00b3"), Map.entry("micro", "\u00b5"), Map.entry("bull", "\u2022"), Map.entry("eacute", "\u00e9"),
            Map.entry("egrave", "\u00e8"), Map.entry("aacute", "\u00e1"), Map.entry("agrave", "\u00e0"), Map.entry("ouml", "\u00f6"),
            Map.entry("uuml", "\u00fc"), Map.entry("auml", "\u00e4"), Map.entry("szlig", "\u00df"), Map.entry("ccedil", "\u00e7"),
            Map.entry("ntilde", "\u00f1"));
    /** Windows-1252's bytes 0x80-0x9F; the undefined ones map to the C1 control of the same value ("sloppy"). */
    private static final String CP1252_HIGH = "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f"
            + "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

    static String fix(String text) {
        boolean unescape = text.indexOf('<') < 0;
        for (int round = 0; round < 16; round++) {
            String before = text;
            if (unescape) text = unescapeHtml(text);
            text = fixMojibake(text);
            text = fixLigatures(text);
            text = fixWidth(text);
            text = uncurlQuotes(text);
            text = removeControlChars(text);
            text = Normalizer.normalize(text, Normalizer.Form.NFC);
            if (text.equals(before)) break;
        }
        return text;
    }

    static String unescapeHtml(String text) {
        if (text.indexOf('&') < 0) return text;
        Matcher m = ENTITY.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(1), replacement = null;
            if (name.startsWith("#")) {
                try {
                    int code = name.length() > 1 && (name.charAt(1) == 'x' || name.charAt(1) == 'X') ? Integer.parseInt(name.substring(2), 16) : Integer.parseInt(name.substring(1));
                    if (Character.isValidCodePoint(code) && code != 0) replacement = new String(Character.toChars(code));
                } catch (NumberFormatException ignored) {
                    // left as it is
                }
            } else {
                replacement = ENTITIES.get(name);
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement == null ? m.group() : replacement));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Text that is UTF-8 decoded as (sloppy) Windows-1252: re-encode and decode as UTF-8 when that is valid. */
    static String fixMojibake(String text) {
        boolean suspicious = false;
        byte[] bytes = new byte[text.length()];
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int b;
            if (c < 0x80) b = c;
            else if (c >= 0xa0 && c <= 0xff) b = c;
            else if ((b = CP1252_HIGH.indexOf(c)) >= 0) b += 0x80;
            else return text;  // not representable: not (whole-text) mojibake
            if (b >= 0x80) suspicious = true;
            bytes[i] = (byte) b;
        }
        if (!suspicious) return text;
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return text;
        }
    }

    static String fixLigatures(String text) {
        return text.replace("\ufb00", "ff").replace("\ufb01", "fi").replace("\ufb02", "fl").replace("\ufb03", "ffi")
                .replace("\ufb04", "ffl").replace("\ufb05", "\u017ft").replace("\ufb06", "st").replace("\u0132", "IJ").replace("\u0133", "ij");
    }

    /** Full-width ASCII variants and the ideographic space to their ordinary forms. */
    static String fixWidth(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 0xff01 && c <= 0xff5e) out.append((char) (c - 0xff01 + 0x21));
            else if (c == 0x3000) out.append(' ');
            else out.append(c);
        }
        return out.toString();
    }

    static String uncurlQuotes(String text) {
        return text.replace('\u2018', '\'').replace('\u2019', '\'').replace('\u201a', '\'').replace('\u201b', '\'')
                .replace('\u201c', '"').replace('\u201d', '"').replace('\u201e', '"').replace('\u201f', '"');
    }

    static String removeControlChars(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean control = (c <= 0x08) || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f || (c >= 0x206a && c <= 0x206f)
                    || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc);
            if (!control) out.append(c);
        }
        return out.toString();
    }

    private TextFixer() {}
}
