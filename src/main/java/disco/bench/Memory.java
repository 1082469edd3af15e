package disco.bench;

import org.bytedeco.pytorch.Device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Resident memory of this process ({@code /proc/self/status}) and, on CUDA, LibTorch's allocator statistics. */
public final class Memory {
    private Memory() {}

    /** VmRSS in KiB, or -1 where /proc is not there. */
    public static long rssKb() {
        return field("VmRSS:");
    }

    /** VmHWM (peak resident) in KiB, or -1. */
    public static long peakRssKb() {
        return field("VmHWM:");
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(name)) {
                    String v = line.substring(name.length()).trim();
                    return Long.parseLong(v.substring(0, v.indexOf(' ')).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /**
     * Resets this process's peak resident memory (VmHWM) to the current resident memory (Linux: "5" into
     * /proc/self/clear_refs), so that a later {@link #peakRssKb} is the peak since now; false where that is not there.
     */
    public static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The JVM heap's committed size in KiB (part of RSS once touched). */
    public static long heapCommittedKb() {
        return Runtime.getRuntime().totalMemory() / 1024;
    }

    /** Bytes allocated by LibTorch's CUDA caching allocator now and at peak on device 0; {-1, -1} off CUDA. */
    public static long[] gpuAllocatedBytes(Device device) {
        if (!device.is_cuda()) return new long[] {-1, -1};
        org.bytedeco.pytorch.Stat s = org.bytedeco.pytorch.global.torch_cuda.getAllocator()
                .getDeviceStats((byte) Math.max(0, device.index())).allocated_bytes();
        return new long[] {s.current(), s.peak()};
    }
}
