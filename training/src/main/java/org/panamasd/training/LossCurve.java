package org.panamasd.training;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Values per step for each term, drawn as a PNG at the end of a run, one colour per term: losses on a log
 * scale of their magnitude, signed figures (logits, accuracies) on a linear one.
 */
public final class LossCurve {
    private final boolean linear;

    /** Losses: log10 |value|. */
    public LossCurve() {
        this(false);
    }

    /** {@code linear}: values as they are (signed), not log10 |value|. */
    public LossCurve(boolean linear) {
        this.linear = linear;
    }

    private static final Color[] COLOURS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e), new Color(0x9467bd)};
    private final Map<String, List<double[]>> terms = new LinkedHashMap<>();

    public void add(String term, long step, double value) {
        terms.computeIfAbsent(term, k -> new ArrayList<>()).add(new double[] {step, value});
    }

    private double shown(double value) {
        return linear ? value : Math.abs(value);
    }

    /** Writes the curves (each smoothed over a window of 1 % of its points) to {@code file}. */
    public void write(Path file, String title) {
        int w = 900, h = 420, margin = 50;
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double maxStep = 1, lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        Map<String, double[][]> smooth = new LinkedHashMap<>();
        for (var e : terms.entrySet()) {
            List<double[]> pts = e.getValue();
            int window = Math.max(1, pts.size() / 100);
            double[][] s = new double[pts.size()][2];
            double sum = 0;
            for (int i = 0; i < pts.size(); i++) {
                sum += shown(pts.get(i)[1]);
                if (i >= window) sum -= shown(pts.get(i - window)[1]);
                s[i][0] = pts.get(i)[0];
                double mean = sum / Math.min(i + 1, window);
                s[i][1] = linear ? mean : Math.log10(Math.max(1e-8, mean));
                maxStep = Math.max(maxStep, s[i][0]);
                lo = Math.min(lo, s[i][1]);
                hi = Math.max(hi, s[i][1]);
            }
            smooth.put(e.getKey(), s);
        }
        if (hi <= lo) hi = lo + 1;
        g.setColor(Color.DARK_GRAY);
        g.drawRect(margin, margin / 2, w - 2 * margin, h - margin * 3 / 2);
        g.drawString(title + (linear ? "  (smoothed; x: step 0.." : "  (log10 |loss|, smoothed; x: step 0..") + (long) maxStep + ", y: " + String.format("%.2f..%.2f", lo, hi) + ")", margin, 18);
        int k = 0;
        for (var e : smooth.entrySet()) {
            g.setColor(COLOURS[k % COLOURS.length]);
            g.setStroke(new BasicStroke(1.5f));
            double[][] s = e.getValue();
            for (int i = 1; i < s.length; i++) {
                int x0 = margin + (int) ((w - 2 * margin) * s[i - 1][0] / maxStep), x1 = margin + (int) ((w - 2 * margin) * s[i][0] / maxStep);
                int y0 = h - margin - (int) ((h - 2 * margin) * (s[i - 1][1] - lo) / (hi - lo));
                int y1 = h - margin - (int) ((h - 2 * margin) * (s[i][1] - lo) / (hi - lo));
                g.drawLine(x0, y0, x1, y1);
            }
            g.drawString(e.getKey(), w - margin - 160, margin + 16 * (k + 1));
            k++;
        }
        g.dispose();
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            ImageIO.write(image, "png", file.toFile());
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot write " + file, ex);
        }
    }
}
