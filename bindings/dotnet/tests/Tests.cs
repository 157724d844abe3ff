// The C# binding's own tests, a console program (no test framework needed):
//   mcs -out:tests.exe -r:Jwtauth.dll tests/Tests.cs && mono tests.exe
// Prints one line per failed check, then "dotnet: N passed, M failed"; exit 1 on failure.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Jwtauth;

static class Tests
{
    static int passed, failed;
    const string Secret = "dotnet-binding-test-secret-0123456789-abcdef";

    static void Check(bool ok, string what)
    {
        if (ok) Interlocked.Increment(ref passed);
        else { Interlocked.Increment(ref failed); Console.Error.WriteLine("FAIL " + what); }
    }

    static JwtAuthException Throws(Action a)
    {
        try { a(); } catch (JwtAuthException e) { return e; }
        return null;
    }

    static JwtAuth Open(string dir)
    {
        return JwtAuth.FromJson("{\"algorithm\":\"HS256\",\"hs_secret\":\"" + Secret + "\",\"issuer\":\"https://auth.cs.test\"," +
            "\"audience\":\"cs-api\",\"store\":{\"url\":\"sqlite://" + Path.Combine(dir, "store.db") + "\"}}");
    }

    static void IssueValidateAndClaims(JwtAuth a)
    {
        var t = a.Issue("alice", new[] { "Admin", "reader" }, "{\"tenant\":\"acme\"}");
        Check(!t.ToString().Contains(t.AccessToken), "ToString hides the token");
        using (var c = a.Validate(t.AccessToken))
        {
            Check(c.Subject == "alice", "subject");
            Check(c.Roles.SequenceEqual(new[] { "Admin", "reader" }), "roles");
            Check(c.HasRole("Admin") && !c.HasRole("admin"), "has_role");
            Check(c.ToJson().Contains("\"tenant\":\"acme\""), "to_json");
            Check(c.ExpiresAt == t.ExpiresAt, "exp");
            a.RequireRole(c, "Admin", null);
        }
        // Non-ASCII survives UTF-8 marshalling both ways.
        var u = a.Issue("zoë-日本", null, null);
        using (var c = a.Validate(u.AccessToken)) Check(c.Subject == "zoë-日本", "UTF-8 subject");
    }

    static void FailuresThrowWithReasonAndHint(JwtAuth a)
    {
        var e = Throws(() => a.Validate("a.b.c"));
        Check(e != null && e.Reason == "malformed" && e.Status == 3 && e.Hint.Length > 0 && e.TokenRefused, "malformed");
        e = Throws(() => a.ValidateHeader(null, null));
        Check(e != null && e.Reason == "missing_token", "missing_token");
        var t = a.Issue("bob", null, null);
        e = Throws(() => a.ValidateHeader(t.AccessToken, new RequestInfo { Client = "127.0.0.1:1", Path = "/x" }));
        Check(e != null && e.Reason == "bad_scheme" && e.Hint.Contains("Bearer"), "bad_scheme");
        using (var c = a.ValidateHeader("Bearer " + t.AccessToken, null))
        {
            e = Throws(() => a.RequireRole(c, "Admin", null));
            Check(e != null && e.Forbidden && e.Hint.Contains("'Admin'"), "insufficient_role");
        }
        e = Throws(() => JwtAuth.FromJson("{\"no_such_key\":1}"));
        Check(e != null && e.Reason == "config" && e.Hint.Contains("no_such_key"), "config error");
        e = Throws(() => a.Issue("x", null, "{\"sub\":\"mallory\"}"));
        Check(e != null && e.Reason == "invalid_argument", "reserved claim");
    }

    // A NUL never cuts a token short: with one inside or after it, the token is malformed.
    static void NulMakesATokenMalformed(JwtAuth a)
    {
        string t = a.Issue("nul", null, null).AccessToken;
        foreach (var bad in new[] { t + "\0", t + "\0junk", t.Substring(0, t.Length - 2) + "\0" + t.Substring(t.Length - 1) })
        {
            var e = Throws(() => a.Validate(bad));
            Check(e != null && e.Reason == "malformed", "Validate with a NUL at " + bad.IndexOf('\0'));
            e = Throws(() => a.ValidateHeader("Bearer " + bad, null));
            Check(e != null && e.Reason == "malformed", "ValidateHeader with a NUL at " + bad.IndexOf('\0'));
        }
        // The token crosses as the string's UTF-16 code units: a character outside
        // ASCII or a lone surrogate is judged, never dropped or cut at.
        foreach (var odd in new[] { "\u00e9", "\u20ac", "\ud800", "\udc00", "\ud83d\ude00" })
        {
            string bad = t.Substring(0, t.Length - 2) + odd + t.Substring(t.Length - 1);
            var e = Throws(() => a.Validate(bad));
            Check(e != null && e.Reason == "malformed", "Validate with U+" + ((int)odd[0]).ToString("X4"));
        }
        var empty = Throws(() => a.Validate(""));
        Check(empty != null && empty.Reason == "missing_token", "empty token");
        using (var c = a.Validate(t)) Check(c.Subject == "nul", "the token itself validates");
    }

    // A disposed JwtAuth is refused before the library is called; a Dispose racing
    // validations on other threads lets each return claims or fail as closed.
    static void ValidateAfterDisposeThrows(string dir)
    {
        var a = Open(dir);
        string t = a.Issue("late", null, null).AccessToken;
        a.Dispose();
        bool threw = false;
        try { a.Validate(t).Dispose(); } catch (ObjectDisposedException) { threw = true; }
        Check(threw, "Validate after Dispose throws ObjectDisposedException");

        int valid = 0, closed = 0, wrong = 0;
        for (int round = 0; round < 20; round++)
        {
            var b = Open(dir);
            string u = b.Issue("late", null, null).AccessToken;
            var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                for (int i = 0; i < 500; i++)
                {
                    try
                    {
                        using (var c = b.Validate(u))
                        {
                            if (c.Subject == "late") Interlocked.Increment(ref valid);
                            else Interlocked.Increment(ref wrong);
                        }
                    }
                    catch (ObjectDisposedException) { Interlocked.Increment(ref closed); }
                    catch (JwtAuthException e)
                    {
                        if (e.Reason == "closed") Interlocked.Increment(ref closed);
                        else Interlocked.Increment(ref wrong);
                    }
                }
            })).ToArray();
            Thread.SpinWait(round * 2000);
            b.Dispose();
            Task.WaitAll(workers);
        }
        Console.WriteLine("Dispose racing Validate: " + valid + " valid, " + closed + " closed, " + wrong + " wrong");
        Check(wrong == 0 && closed > 0, "Validate racing Dispose returns claims or fails as closed");
    }

    static void SessionsAndReuse(JwtAuth a)
    {
        var login = a.SessionStart("carol", new[] { "reader" }, null);
        Check(login.RefreshToken != null, "refresh token");
        var next = a.Refresh(login.RefreshToken, null);
        Check(next.RefreshToken != login.RefreshToken, "rotation");
        var e = Throws(() => a.Refresh(login.RefreshToken, null));
        Check(e != null && e.Reason == "refresh_reused", "reuse detected");
        var old = a.Issue("carol", null, null);
        string kid = a.RotateKey("ES256");
        Check(a.Jwks().Contains(kid), "jwks has the new kid");
        // Published, not yet signing (key_publish_ahead is 10 minutes by default).
        Check(a.Issue("carol", null, null).Kid == old.Kid && kid != old.Kid, "RotateKey publishes first");
        string nowKid = a.RotateKeyNow("ES256");
        Check(a.Issue("carol", null, null).Kid == nowKid && nowKid != kid, "RotateKeyNow signs at once");
        // "" means the configured algorithm, exactly as null does.
        var viaEmpty = Throws(() => a.RotateKey(""));
        var viaNull = Throws(() => a.RotateKey(null));
        Check(viaEmpty != null && viaNull != null && viaEmpty.Hint == viaNull.Hint, "\"\" is null");
        var nowViaEmpty = Throws(() => a.RotateKeyNow(""));
        Check(nowViaEmpty != null && nowViaEmpty.Hint == viaNull.Hint, "RotateKeyNow reads \"\" as null");
    }

    // 64 async tasks hopping threads between calls (await Task.Yield): each error
    // must name its own call's role.
    static void ErrorDetailsUnderAsyncConcurrency(JwtAuth a)
    {
        var t = a.Issue("dave", new[] { "reader" }, null);
        int wrong = 0, calls = 0;
        var threads = new HashSet<int>();
        Func<int, Task> work = async g =>
        {
            for (int i = 0; i < 200; i++)
            {
                using (var c = a.Validate(t.AccessToken))
                {
                    await Task.Yield();
                    lock (threads) threads.Add(Thread.CurrentThread.ManagedThreadId);
                    string role = "role-" + g + "-" + i;
                    var e = Throws(() => a.RequireRole(c, role, null));
                    if (e == null || e.Reason != "insufficient_role" || !e.Hint.Contains("'" + role + "'")) Interlocked.Increment(ref wrong);
                }
                await Task.Yield();
                var m = Throws(() => a.Validate("x.y"));
                if (m == null || m.Reason != "malformed") Interlocked.Increment(ref wrong);
                Interlocked.Increment(ref calls);
            }
        };
        Task.WaitAll(Enumerable.Range(0, 64).Select(g => Task.Run(() => work(g))).ToArray());
        Console.WriteLine("64 tasks x 200 iterations on " + threads.Count + " threads: " + wrong + " errors not their own");
        Check(wrong == 0 && calls == 64 * 200, "error details belong to their call");
    }

    static void FailuresReachTheEventHandler(JwtAuth a)
    {
        var seen = new List<string>();
        JwtAuth.SetEventHandler((kind, json) => { if (kind == "failure") lock (seen) seen.Add(json); });
        Throws(() => a.ValidateHeader("Basic abc", new RequestInfo { Client = "192.0.2.1:5" }));
        Check(JwtAuth.HasEventHandler, "handler registered");
        JwtAuth.SetEventHandler(null);
        Check(!JwtAuth.HasEventHandler, "handler removed");
        Throws(() => a.Validate("after"));
        Check(seen.Count == 1 && seen[0].Contains("\"reason\":\"bad_scheme\"") && seen[0].Contains("\"client\":\"192.0.2.1:5\""),
            "failure events reach the handler as JSON");
    }

    static long RssKiB()
    {
        string[] f = File.ReadAllText("/proc/self/statm").Split(' ');
        return long.Parse(f[1]) * 4;
    }

    static void NoLeakOverALongLoop(JwtAuth a)
    {
        var t = a.Issue("erin", new[] { "reader" }, null);
        Action<int> loop = n =>
        {
            for (int i = 0; i < n; i++)
            {
                using (var c = a.Validate(t.AccessToken)) Throws(() => a.RequireRole(c, "Admin", new RequestInfo { Client = "10.0.0.1:1" }));
                Throws(() => a.Validate("bad"));
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();
        };
        loop(10000);
        long before = RssKiB();
        loop(50000);
        long grown = RssKiB() - before;
        Console.WriteLine("RSS grew " + grown + " KiB over 50,000 iterations");
        Check(grown < 16 * 1024, "no native leak");
    }

    // Claims never disposed are freed by a finalizer (one per 64 of them): RSS stays
    // flat over 200,000 (leaked, they would take over 100 MiB).
    static void ForgottenClaimsAreFreed(JwtAuth a)
    {
        string t = a.Issue("frank", new[] { "reader" }, null).AccessToken;
        Action<int> forget = n =>
        {
            for (int i = 1; i <= n; i++)
            {
                a.Validate(t);
                if (i % 5000 != 0) continue;
                // Finalizers run after a collection: without these the native
                // claims would pile up between two of them, not leak.
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        };
        forget(20000);
        long before = RssKiB();
        forget(200000);
        long grown = RssKiB() - before;
        Console.WriteLine("RSS grew " + grown + " KiB over 200,000 claims never disposed");
        Check(grown < 16 * 1024, "claims never disposed are freed");
    }

    // A second Dispose does nothing (a second free would abort the process: glibc
    // checks), and a disposed Claims is refused by every reader, never read.
    static void DisposedClaimsAreRefused(JwtAuth a)
    {
        string t = a.Issue("frank", new[] { "reader" }, null).AccessToken;
        var c = a.Validate(t);
        c.Dispose();
        c.Dispose();
        var readers = new Dictionary<string, Action>
        {
            { "Subject", () => { var unused = c.Subject; } },
            { "ExpiresAt", () => { var unused = c.ExpiresAt; } },
            { "Roles", () => { var unused = c.Roles; } },
            { "HasRole", () => c.HasRole("reader") },
            { "ToJson", () => c.ToJson() },
            { "RequireRole", () => a.RequireRole(c, "reader", null) },
        };
        foreach (var r in readers)
        {
            bool refused = false;
            try { r.Value(); } catch (ObjectDisposedException) { refused = true; }
            Check(refused, r.Key + " of disposed claims throws ObjectDisposedException");
        }
        bool nullRefused = false;
        try { a.RequireRole(null, "reader", null); } catch (ArgumentNullException) { nullRefused = true; }
        Check(nullRefused, "RequireRole of null claims throws ArgumentNullException");
        // Every slot of a slab disposed twice, on two threads at once, then reused.
        for (int round = 0; round < 200; round++)
        {
            var many = Enumerable.Range(0, 70).Select(_ => a.Validate(t)).ToArray();
            Task.WaitAll(Task.Run(() => { foreach (var m in many) m.Dispose(); }), Task.Run(() => { foreach (var m in many) m.Dispose(); }));
        }
        using (var after = a.Validate(t)) Check(after.Subject == "frank", "claims after many double disposals");
    }

    // Dispose racing readers on 8 threads (and a second Dispose on one of them):
    // every read sees the claims whole or is refused with ObjectDisposedException,
    // never memory already freed (freed, the subject's bytes are the allocator's).
    static void DisposeRacingReaders(JwtAuth a)
    {
        const int readers = 8, rounds = 1000;
        string t = a.Issue("frank", new[] { "reader", "writer" }, null).AccessToken;
        Claims shared = null;
        int wrong = 0, reads = 0, refused = 0;
        var go = new Barrier(readers + 1);
        var done = new Barrier(readers + 1);
        Func<Claims, bool>[] checks =
        {
            c => c.Subject == "frank",
            c => c.Roles.SequenceEqual(new[] { "reader", "writer" }),
            c => c.HasRole("writer") && !c.HasRole("admin"),
            c => c.ToJson().Contains("\"sub\":\"frank\""),
            c => { a.RequireRole(c, "reader", null); return c.ExpiresAt > 0; },
        };
        var threads = Enumerable.Range(0, readers).Select(r => new Thread(() =>
        {
            for (int round = 0; round < rounds; round++)
            {
                go.SignalAndWait();
                Claims c = Volatile.Read(ref shared);
                try
                {
                    for (int i = 0; i < 200; i++)
                    {
                        if (checks[(r + i) % checks.Length](c)) Interlocked.Increment(ref reads);
                        else Interlocked.Increment(ref wrong);
                    }
                }
                catch (ObjectDisposedException) { Interlocked.Increment(ref refused); }
                catch (JwtAuthException) { Interlocked.Increment(ref wrong); }
                if (r == 0) c.Dispose();
                done.SignalAndWait();
            }
        })).ToArray();
        foreach (var th in threads) th.Start();
        for (int round = 0; round < rounds; round++)
        {
            Volatile.Write(ref shared, a.Validate(t));
            go.SignalAndWait();
            Thread.SpinWait(round % 50 * 200);
            shared.Dispose();
            done.SignalAndWait();
        }
        foreach (var th in threads) th.Join();
        Console.WriteLine(readers + " readers x " + rounds + " disposals: " + reads + " reads, " + refused + " refused, " + wrong + " wrong");
        Check(wrong == 0, "readers racing Dispose read the claims whole or are refused");
        Check(reads > 0 && refused > 0, "both sides of the race were seen");
    }

    static int Main()
    {
        foreach (System.Collections.DictionaryEntry kv in Environment.GetEnvironmentVariables())
            if (((string)kv.Key).StartsWith("JWTAUTH_")) Environment.SetEnvironmentVariable((string)kv.Key, null);
        string dir = Path.Combine(Path.GetTempPath(), "jwtauth-cs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Check(JwtAuth.Version.Split('.').Length == 3, "version");
            using (var a = Open(dir))
            {
                IssueValidateAndClaims(a);
                FailuresThrowWithReasonAndHint(a);
                NulMakesATokenMalformed(a);
                SessionsAndReuse(a);
                FailuresReachTheEventHandler(a);
                ErrorDetailsUnderAsyncConcurrency(a);
                NoLeakOverALongLoop(a);
                ForgottenClaimsAreFreed(a);
                DisposedClaimsAreRefused(a);
                DisposeRacingReaders(a);
            }
            ValidateAfterDisposeThrows(dir);
        }
        finally { Directory.Delete(dir, true); }
        Console.WriteLine("dotnet: " + passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
