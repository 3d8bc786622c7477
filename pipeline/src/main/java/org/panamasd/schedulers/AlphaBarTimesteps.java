package org.panamasd.schedulers;

/** Conversions for the schedulers that index alpha-bar directly by an integer timestep. */
final class AlphaBarTimesteps {

    static long[] toIndices(double[] timesteps, NoiseSchedule schedule) {
        long[] indices = new long[timesteps.length];
        for (int i = 0; i < timesteps.length; i++) indices[i] = index(timesteps[i], schedule);
        return indices;
    }

    static int index(double timestep, NoiseSchedule schedule) {
        int t = (int) timestep;
        if (t != timestep || t < 0 || t >= schedule.trainTimesteps())
            throw new IllegalArgumentException("timestep " + timestep + " is not an integer in [0, " + schedule.trainTimesteps() + ")");
        return t;
    }

    private AlphaBarTimesteps() {}
}
