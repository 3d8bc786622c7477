package org.panamasd.memoryprofile;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.panamasd.io.AtomicFile;

/**
 * The timeline as a picture: the allocator's bytes (the envelope of every event, per pixel column) and the sampled
 * RSS over time, on a background banded by the model block that was running, with the blocks named in a strip
 * below and the allocator's peak marked with the module that reached it.
 */
public final class ProfilePlot {
    private static final int WIDTH = 1600, HEIGHT = 650, LEFT = 90, RIGHT = 30, TOP = 60, PLOT_HEIGHT = 480, STRIP = 70;
    private static final Color ALLOCATOR = new Color(0x1f4e9c), RSS = new Color(0xc0392b);

    private ProfilePlot() {}

    public static void write(MemoryProfile profile, List<RssSampler.Sample> rss, String title, Path png) {
        BufferedImage image = draw(profile, rss, title);
        try {
            AtomicFile.write(png, temporary -> {
                if (!ImageIO.write(image, "png", temporary.toFile())) throw new IOException("no PNG writer");
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png, e);
        }
    }

    static BufferedImage draw(MemoryProfile profile, List<RssSampler.Sample> rss, String title) {
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);
        int plotWidth = WIDTH - LEFT - RIGHT;
        var events = profile.events();
        long start = events.startNanos();
        double duration = Math.max(1e-6, profile.seconds(events.stopNanos()));
        long rssMax = rss.stream().mapToLong(RssSampler.Sample::rssBytes).max().orElse(0);
        double top = Math.max(1, Math.max(rssMax, profile.peakBytes())) * 1.08;

        // bands: the plot's background and the strip below, one colour per block, hues by component
        Map<String, Color> colours = new HashMap<>();
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        FontMetrics fm = g.getFontMetrics();
        int stripTop = TOP + PLOT_HEIGHT + 28;
        for (MemoryProfile.Band band : profile.bands()) {
            int x0 = LEFT + (int) (band.start() / duration * plotWidth), x1 = LEFT + (int) Math.ceil(band.end() / duration * plotWidth);
            Color c = colours.computeIfAbsent(band.block(), b -> colourOf(b, colours.size()));
            g.setColor(tint(c, 0.80));
            g.fillRect(x0, TOP, Math.max(1, x1 - x0), PLOT_HEIGHT);
            g.setColor(c);
            g.fillRect(x0, stripTop, Math.max(1, x1 - x0), 18);
            String label = shortName(band.block());
            if (fm.stringWidth(label) + 4 < x1 - x0) {
                g.setColor(Color.BLACK);
                g.drawString(label, x0 + 2, stripTop + 32);
            }
        }
        // components named once each, where they first run
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 12));
        java.util.Set<String> named = new java.util.HashSet<>();
        int free = 0;  // the first x no earlier name covers
        for (MemoryProfile.Band band : profile.bands()) {
            String component = band.block().split("\\.")[0];
            if (!named.add(component)) continue;
            int x = Math.max(free, LEFT + (int) (band.start() / duration * plotWidth) + 2);
            g.setColor(Color.DARK_GRAY);
            g.drawString(component, x, stripTop + 50);
            free = x + g.getFontMetrics().stringWidth(component) + 12;
        }

        // axes and grid
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(new Color(0xdddddd));
        for (int i = 0; i <= 5; i++) {
            int y = TOP + PLOT_HEIGHT - (int) (i / 5.0 * PLOT_HEIGHT);
            g.drawLine(LEFT, y, LEFT + plotWidth, y);
        }
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, plotWidth, PLOT_HEIGHT);
        for (int i = 0; i <= 5; i++) {
            int y = TOP + PLOT_HEIGHT - (int) (i / 5.0 * PLOT_HEIGHT);
            g.drawString(String.format("%.2f GiB", top * i / 5 / (1L << 30)), 8, y + 4);
        }
        for (int i = 0; i <= 10; i++) {
            int x = LEFT + (int) (i / 10.0 * plotWidth);
            g.drawLine(x, TOP + PLOT_HEIGHT, x, TOP + PLOT_HEIGHT + 5);
            g.drawString(String.format("%.1f s", duration * i / 10), x - 14, TOP + PLOT_HEIGHT + 20);
        }

        // the allocator: per pixel column, the lowest and highest bytes any event left
        long[] after = profile.bytesAfterEach();
        long[] low = new long[plotWidth + 1], high = new long[plotWidth + 1];
        java.util.Arrays.fill(low, Long.MAX_VALUE);
        java.util.Arrays.fill(high, Long.MIN_VALUE);
        long previous = events.allocatedAtStart();
        int lastColumn = 0;
        for (int i = 0; i < after.length; i++) {
            int col = (int) Math.min(plotWidth, profile.seconds(events.timeNanos()[i]) / duration * plotWidth);
            for (int c = lastColumn + 1; c < col; c++) low[c] = high[c] = previous;  // nothing changed in between
            low[col] = Math.min(low[col], Math.min(previous, after[i]));
            high[col] = Math.max(high[col], Math.max(previous, after[i]));
            previous = after[i];
            lastColumn = col;
        }
        for (int c = lastColumn + 1; c <= plotWidth; c++) low[c] = high[c] = previous;
        g.setColor(ALLOCATOR);
        g.setStroke(new BasicStroke(1.5f));
        for (int c = 0; c <= plotWidth; c++) {
            if (high[c] == Long.MIN_VALUE) continue;
            g.drawLine(LEFT + c, y(low[c], top), LEFT + c, y(high[c], top));
        }
        // RSS samples
        g.setColor(RSS);
        g.setStroke(new BasicStroke(2f));
        int px = -1, py = -1;
        for (RssSampler.Sample sample : rss) {
            if (sample.rssBytes() < 0) continue;
            int x = LEFT + (int) Math.min(plotWidth, Math.max(0, (sample.timeNanos() - start) / 1e9 / duration * plotWidth));
            int y = y(sample.rssBytes(), top);
            if (px >= 0) g.drawLine(px, py, x, y);
            px = x;
            py = y;
        }
        // the peak
        int peakX = LEFT + (int) (profile.peakSeconds() / duration * plotWidth);
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {4f, 4f}, 0f));
        g.drawLine(peakX, TOP, peakX, TOP + PLOT_HEIGHT);
        String peak = String.format("allocator peak %.2f GiB at %.1f s in %s (%s)", profile.peakBytes() / (double) (1L << 30), profile.peakSeconds(),
                profile.runningAtPeak().isEmpty() ? MemoryProfile.NO_MODULE : profile.runningAtPeak(), profile.opAtPeak());
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int textX = Math.min(peakX + 6, WIDTH - RIGHT - g.getFontMetrics().stringWidth(peak) - 4);
        g.drawString(peak, Math.max(LEFT + 4, textX), TOP + 16);

        // title and legend
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(profile.warning() == null ? title : title + "  [INCOMPLETE: events dropped]", LEFT, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        legend(g, ALLOCATOR, "bytes the counting allocator holds (every allocation and free)", LEFT, 44);
        legend(g, RSS, String.format("resident set size (sampled; peak %.2f GiB)", rssMax / (double) (1L << 30)), LEFT + 480, 44);
        g.setColor(Color.DARK_GRAY);
        g.drawString("background: the model block running (its state-dict path)", LEFT + 840, 44);
        g.dispose();
        return image;
    }

    private static int y(long bytes, double top) {
        return TOP + PLOT_HEIGHT - (int) Math.round(bytes / top * PLOT_HEIGHT);
    }

    private static void legend(Graphics2D g, Color c, String text, int x, int y) {
        g.setColor(c);
        g.fillRect(x, y - 9, 18, 4);
        g.setColor(Color.BLACK);
        g.drawString(text, x + 24, y);
    }

    /** Hues by component (UNet blue, VAE green, text encoders orange, ControlNet purple), alternating lightness by block. */
    private static Color colourOf(String block, int index) {
        String component = block.split("\\.")[0];
        float hue = switch (component) {
            case "unet" -> 0.58f;
            case "vae" -> 0.33f;
            case "controlnet" -> 0.78f;
            default -> component.startsWith("text_encoder") ? 0.08f : 0f;
        };
        float saturation = component.startsWith("(") ? 0f : 0.45f;
        return Color.getHSBColor(hue, saturation, index % 2 == 0 ? 0.80f : 0.92f);
    }

    private static Color tint(Color c, double towardsWhite) {
        return new Color((int) (c.getRed() + (255 - c.getRed()) * towardsWhite), (int) (c.getGreen() + (255 - c.getGreen()) * towardsWhite),
                (int) (c.getBlue() + (255 - c.getBlue()) * towardsWhite));
    }

    /** The block without its component ("down_blocks.1"), which the strip's colour already tells. */
    private static String shortName(String block) {
        int dot = block.indexOf('.');
        return dot < 0 ? block : block.substring(dot + 1);
    }
}
