package org.panamasd.io;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import org.w3c.dom.Node;

/**
 * PNG text chunks ({@code tEXt}, {@code iTXt}, {@code zTXt}) through javax.imageio's native PNG metadata format,
 * so the JDK's writer lays out the chunks and their CRCs: the key/value pairs that image tools (A1111-style
 * {@code parameters}, exiftool, PIL's {@code Image.text}) read back.
 */
public final class PngText {
    private static final String FORMAT = "javax_imageio_png_1.0";

    /** Writes {@code picture} as a PNG to {@code file} with {@code text}: the Latin-1 pairs as tEXt in order, then the others as iTXt. */
    static void write(BufferedImage picture, Map<String, String> text, Path file) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
            ImageWriteParam param = writer.getDefaultWriteParam();
            IIOMetadata metadata = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(picture), param);
            if (!text.isEmpty()) metadata.mergeTree(FORMAT, chunks(text));
            writer.setOutput(out);
            writer.write(null, new IIOImage(picture, null, metadata), param);
        } finally {
            writer.dispose();
        }
    }

    private static IIOMetadataNode chunks(Map<String, String> text) {
        IIOMetadataNode root = new IIOMetadataNode(FORMAT);
        IIOMetadataNode latin = new IIOMetadataNode("tEXt"), unicode = new IIOMetadataNode("iTXt");
        for (Map.Entry<String, String> e : text.entrySet()) {
            String keyword = e.getKey(), value = e.getValue() == null ? "" : e.getValue();
            if (keyword.isEmpty() || keyword.length() > 79 || !latin1(keyword))
                throw new IllegalArgumentException("PNG text keyword must be 1-79 Latin-1 characters, got '" + keyword + "'");
            if (latin1(value)) {
                IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                entry.setAttribute("keyword", keyword);
                entry.setAttribute("value", value);
                latin.appendChild(entry);
            } else {
                IIOMetadataNode entry = new IIOMetadataNode("iTXtEntry");
                entry.setAttribute("keyword", keyword);
                entry.setAttribute("compressionFlag", "FALSE");
                entry.setAttribute("compressionMethod", "0");
                entry.setAttribute("languageTag", "");
                entry.setAttribute("translatedKeyword", "");
                entry.setAttribute("text", value);
                unicode.appendChild(entry);
            }
        }
        if (latin.hasChildNodes()) root.appendChild(latin);
        if (unicode.hasChildNodes()) root.appendChild(unicode);
        return root;
    }

    private static boolean latin1(String s) {
        return StandardCharsets.ISO_8859_1.newEncoder().canEncode(s);
    }

    /**
     * The text chunks of a PNG file, keyword to text, in file order per chunk kind. A file that is not a PNG,
     * or whose chunks the reader rejects, fails naming the file and the problem.
     */
    public static Map<String, String> read(Path file) {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + " does not exist or is not a file");
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) throw new IllegalArgumentException("cannot open " + file);
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new IllegalArgumentException(file + " is not an image (no PNG signature)");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, false);
                if (!reader.getFormatName().equalsIgnoreCase("png")) throw new IllegalArgumentException(file + " is a " + reader.getFormatName() + " image, not a PNG");
                IIOMetadata metadata = reader.getImageMetadata(0);
                return entries(metadata.getAsTree(FORMAT));
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            // javax.imageio's message says which chunk (e.g. "Error reading PNG metadata"); the cause often says more
            String cause = e.getCause() == null || e.getCause().getMessage() == null ? "" : ": " + e.getCause().getMessage();
            throw new IllegalArgumentException(file + " is not a readable PNG: " + e.getMessage() + cause, e);
        }
    }

    private static Map<String, String> entries(Node root) {
        Map<String, String> text = new LinkedHashMap<>();
        for (Node chunk = root.getFirstChild(); chunk != null; chunk = chunk.getNextSibling()) {
            String kind = chunk.getNodeName();
            if (!kind.equals("tEXt") && !kind.equals("iTXt") && !kind.equals("zTXt")) continue;
            for (Node e = chunk.getFirstChild(); e != null; e = e.getNextSibling()) {
                IIOMetadataNode entry = (IIOMetadataNode) e;
                String value = kind.equals("iTXt") ? entry.getAttribute("text") : entry.getAttribute(kind.equals("zTXt") ? "text" : "value");
                text.put(entry.getAttribute("keyword"), value);
            }
        }
        return text;
    }

    private PngText() {}
}
