package disco.models.registry;

import disco.util.ExitCodes;
import disco.util.DiscoException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/** Downloads against a real HTTP server on 127.0.0.1 (never the network). */
@Timeout(60)
class DownloaderTest {
    static final int SIZE = 3 * 1024 * 1024 + 123;
    static final long CUT = 1024 * 1024 + 7;

    @TempDir
    Path tmp;
    TestServer server;
    Path modelDir;
    final List<String> log = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        server = new TestServer(SIZE, 42, CUT);
        modelDir = tmp.resolve("models");
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** A one-model registry file whose URLs point at the test server. */
    static String registryJson(String name, String sha, Long size, String... urls) {
        String u = Arrays.stream(urls).map(x -> "{\"url\": \"" + x + "\", \"source\": \"test server\"}").collect(Collectors.joining(", "));
        return "{\"format\": 1, \"models\": [{\"name\": \"" + name + "\", \"kind\": \"clip\", \"file\": \"" + name + ".pt\", "
                + "\"sha256\": " + (sha == null ? "null" : "\"" + sha + "\"") + ", \"size\": " + size + ", "
                + "\"urls\": [" + u + "], \"source\": \"test\"}]}";
    }

    ModelStore store(String sha, Long size, String... paths) throws IOException {
        String[] urls = Arrays.stream(paths).map(server::url).toArray(String[]::new);
        Path reg = tmp.resolve("registry.json");
        Files.writeString(reg, registryJson("m", sha, size, urls));
        return new ModelStore(Registry.load(reg), modelDir);
    }

    Downloader downloader(DownloadProgress p) {
        return new Downloader(Downloader.defaultClient(), p, log::add);
    }

    String sha() {
        return Sha256.of(server.data);
    }

    Path finalFile() {
        return modelDir.resolve("m.pt");
    }

    @Test
    void truncatedTransferIsResumedWithRange() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/cut/m.pt");
        ModelStore.Fetched f = s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertTrue(f.downloaded());
        assertEquals(ModelStore.State.VERIFIED, f.state());
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
        List<TestServer.Request> rq = server.requests();
        assertEquals(2, rq.size(), "one cut transfer, one resumed: " + rq);
        assertNull(rq.get(0).range());
        assertNotNull(rq.get(1).range(), "the second request must carry Range");
        long from = Long.parseLong(rq.get(1).range().replaceAll("bytes=(\\d+)-", "$1"));
        assertTrue(from > 0 && from <= CUT, "resumed from " + from);
        assertFalse(Files.exists(Downloader.partFile(finalFile())), ".part is gone after the rename");
        assertTrue(log.stream().anyMatch(l -> l.contains("resuming")), log.toString());
        assertEquals(ModelStore.State.VERIFIED, new ModelStore(s.registry(), modelDir).status(s.registry().require("m")).state(),
                "the sidecar remembers the verified hash");
    }

    @Test
    void stalledTransferIsDroppedAndResumed() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/stall/m.pt");
        Downloader d = new Downloader(Downloader.defaultClient(), DownloadProgress.none(), log::add, java.time.Duration.ofMillis(700));
        s.fetch(s.registry().require("m"), d, log::add);
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
        List<TestServer.Request> rq = server.requests();
        assertEquals(2, rq.size(), rq.toString());
        assertNotNull(rq.get(1).range(), "resumed with Range");
        assertTrue(log.stream().anyMatch(l -> l.contains("no data for 0.7 s") && l.contains("resuming")), log.toString());
    }

    @Test
    void existingPartFileIsResumed() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/ok/m.pt");
        Files.createDirectories(modelDir);
        Files.write(Downloader.partFile(finalFile()), Arrays.copyOf(server.data, 777_777));
        s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
        assertEquals(List.of(new TestServer.Request("/ok/m.pt", "bytes=777777-")), server.requests());
    }

    @Test
    void completePartFileIsVerifiedWithoutDownloading() throws IOException {
        ModelStore s = store(sha(), null, "/ok/m.pt");
        Files.createDirectories(modelDir);
        Files.write(Downloader.partFile(finalFile()), server.data);
        s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
        assertEquals(List.of(new TestServer.Request("/ok/m.pt", "bytes=" + SIZE + "-")), server.requests(), "answered 416");
    }

    @Test
    void aSecondDownloaderOfTheSameFileStops() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/ok/m.pt");
        Files.createDirectories(modelDir);
        Path lock = modelDir.resolve(".m.pt.lock");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(lock,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
             java.nio.channels.FileLock held = ch.lock()) {
            DiscoException e = assertThrows(DiscoException.class,
                    () -> s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add));
            assertEquals(ExitCodes.IO_ERROR, e.exitCode());
            assertTrue(e.getMessage().contains("another process is downloading"), e.getMessage());
        }
        assertTrue(server.requests().isEmpty());
        s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
    }

    @Test
    void serverIgnoringRangeStartsOver() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/norange/m.pt");
        Files.createDirectories(modelDir);
        Files.write(Downloader.partFile(finalFile()), Arrays.copyOf(server.data, 1000));
        s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
    }

    @Test
    void stalePartFromAnotherFileIsDiscardedAfterMismatch() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/ok/m.pt");
        Files.createDirectories(modelDir);
        Files.write(Downloader.partFile(finalFile()), Arrays.copyOf(server.wrong, 5000));
        s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
        List<TestServer.Request> rq = server.requests();
        assertEquals("bytes=5000-", rq.get(0).range());
        assertNull(rq.get(rq.size() - 1).range(), "downloaded again from the start: " + rq);
    }

    @Test
    void wrongHashFallsBackToTheNextUrl() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/wrong/m.pt", "/ok/m.pt");
        ModelStore.Fetched f = s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertEquals(server.url("/ok/m.pt"), f.url());
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
        assertTrue(log.stream().anyMatch(l -> l.contains("sha256 mismatch") && l.contains("trying the next URL")), log.toString());
    }

    @Test
    void wrongHashEverywhereLeavesNothingBehind() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/wrong/m.pt");
        DiscoException e = assertThrows(DiscoException.class,
                () -> s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add));
        assertEquals(ExitCodes.IO_ERROR, e.exitCode());
        assertTrue(e.getMessage().startsWith("m: download failed from every URL"), e.getMessage());
        assertTrue(e.getMessage().contains("sha256 mismatch"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertFalse(Files.exists(finalFile()), "nothing at the final name");
        assertFalse(Files.exists(Downloader.partFile(finalFile())), "no .part kept with the wrong bytes");
    }

    @Test
    void notFoundFallsBackToTheNextUrl() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/missing/m.pt", "/ok/m.pt");
        ModelStore.Fetched f = s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertEquals(server.url("/ok/m.pt"), f.url());
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
        assertTrue(log.stream().anyMatch(l -> l.contains("HTTP 404")), log.toString());
    }

    @Test
    void everyUrlFailingNamesEachUrl() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/missing/m.pt", "/missing/n.pt");
        DiscoException e = assertThrows(DiscoException.class,
                () -> s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add));
        assertEquals(ExitCodes.IO_ERROR, e.exitCode());
        assertTrue(e.getMessage().contains(server.url("/missing/m.pt") + ": HTTP 404"), e.getMessage());
        assertTrue(e.getMessage().contains(server.url("/missing/n.pt") + ": HTTP 404"), e.getMessage());
    }

    @Test
    void announcedSizeDifferentFromRegistryIsRejected() throws IOException {
        ModelStore s = store(null, (long) SIZE + 1, "/ok/m.pt");
        DiscoException e = assertThrows(DiscoException.class,
                () -> s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add));
        assertTrue(e.getMessage().contains("expected " + (SIZE + 1)), e.getMessage());
        assertFalse(Files.exists(finalFile()));
    }

    @Test
    void withoutPublishedHashTheFileIsUnverifiable() throws IOException {
        ModelStore s = store(null, null, "/ok/m.pt");
        ModelStore.Fetched f = s.fetch(s.registry().require("m"), downloader(DownloadProgress.none()), log::add);
        assertEquals(ModelStore.State.UNVERIFIABLE, f.state());
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
        ModelStore.Verification v = s.verify(s.registry().require("m"));
        assertEquals(ModelStore.State.UNVERIFIABLE, v.state());
        assertEquals(sha(), v.sha256());
    }

    @Test
    void progressIsReportedUpToTheWholeFile() throws IOException {
        List<long[]> events = new ArrayList<>();
        DownloadProgress rec = new DownloadProgress() {
            @Override public void start(String name, String url, long done, long total) { events.add(new long[] {0, done, total}); }
            @Override public void advance(long done) { events.add(new long[] {1, done}); }
            @Override public void end(long done) { events.add(new long[] {2, done}); }
        };
        ModelStore s = store(sha(), (long) SIZE, "/ok/m.pt");
        s.fetch(s.registry().require("m"), downloader(rec), log::add);
        assertArrayEquals(new long[] {0, 0, SIZE}, events.get(0));
        long prev = 0;
        for (long[] ev : events.subList(1, events.size() - 1)) {
            assertEquals(1, ev[0]);
            assertTrue(ev[1] > prev, "monotonic");
            prev = ev[1];
        }
        assertEquals(SIZE, prev);
        assertArrayEquals(new long[] {2, SIZE}, events.get(events.size() - 1));
    }

    @Test
    void lineProgressPrintsTenthsForLogs() throws IOException {
        StringWriter sw = new StringWriter();
        ModelStore s = store(sha(), (long) SIZE, "/ok/m.pt");
        s.fetch(s.registry().require("m"), downloader(new TextProgress(new PrintWriter(sw), false)), log::add);
        List<String> lines = sw.toString().lines().toList();
        assertTrue(lines.get(0).startsWith("m: downloading " + server.url("/ok/m.pt")), lines.get(0));
        assertFalse(sw.toString().contains("\r"), "no carriage returns in log mode");
        assertTrue(lines.size() <= 11, "at most one line per tenth: " + lines);
        assertTrue(lines.get(lines.size() - 1).matches("m: 100% 3\\.0 MiB / 3\\.0 MiB"), lines.get(lines.size() - 1));
    }

    @Test
    void terminalProgressRedrawsOneLine() {
        StringWriter sw = new StringWriter();
        long[] now = {0};
        TextProgress p = new TextProgress(new PrintWriter(sw), true, () -> now[0]);
        p.start("m", "http://x/m.pt", 0, 1000);
        for (int i = 1; i <= 10; i++) {
            now[0] += 200_000_000L;
            p.advance(i * 100);
        }
        p.end(1000);
        String s = sw.toString();
        assertTrue(s.contains("\r[###############               ] m:  50%"), s);
        assertTrue(s.contains("\r[##############################] m: 100%"), s);
        assertEquals(2, s.split("\n").length, "header line, then one redrawn line: " + s);
    }

    @Test
    void verifyDetectsACorruptedFile() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/ok/m.pt");
        ModelEntry e = s.registry().require("m");
        s.fetch(e, downloader(DownloadProgress.none()), log::add);
        assertEquals(ModelStore.State.VERIFIED, s.verify(e).state());
        FileTime mtime = Files.getLastModifiedTime(finalFile());
        byte[] b = Files.readAllBytes(finalFile());
        b[SIZE / 2] ^= 1;
        Files.write(finalFile(), b);
        Files.setLastModifiedTime(finalFile(), mtime);   // same size and mtime: only hashing can tell
        ModelStore.Verification v = s.verify(e);
        assertEquals(ModelStore.State.MISMATCH, v.state());
        assertEquals(Sha256.of(b), v.sha256());
        assertEquals(ModelStore.State.UNCHECKED, new ModelStore(s.registry(), modelDir).status(e).state(),
                "a mismatch drops the sidecar entry");
        // fetch replaces it with a verified download
        ModelStore.Fetched f = s.fetch(e, downloader(DownloadProgress.none()), log::add);
        assertTrue(f.downloaded());
        assertArrayEquals(server.data, Files.readAllBytes(finalFile()));
    }

    @Test
    void listStateFollowsSizeAndMtime() throws IOException {
        ModelStore s = store(sha(), (long) SIZE, "/ok/m.pt");
        ModelEntry e = s.registry().require("m");
        assertEquals(ModelStore.State.ABSENT, s.status(e).state());
        Files.createDirectories(modelDir);
        Files.write(finalFile(), server.data);
        assertEquals(ModelStore.State.UNCHECKED, s.status(e).state());
        // fetch hashes the present file and keeps it without downloading
        ModelStore.Fetched f = s.fetch(e, downloader(DownloadProgress.none()), log::add);
        assertFalse(f.downloaded());
        assertTrue(server.requests().isEmpty());
        assertEquals(ModelStore.State.VERIFIED, s.status(e).state());
        Files.setLastModifiedTime(finalFile(), FileTime.fromMillis(Files.getLastModifiedTime(finalFile()).toMillis() + 5000));
        assertEquals(ModelStore.State.UNCHECKED, s.status(e).state(), "a touched file is no longer known verified");
    }
}
