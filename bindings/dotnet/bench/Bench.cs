// Validation cost per call from C#, in the format of ffi/benches (best of 7 rounds
// of this thread's CPU time). Run by scripts/bench-bindings.sh:
//   mono bench.exe WORK_DIR [ITERATIONS]
using System;
using System.Runtime.InteropServices;
using Jwtauth;

static class Bench
{
    [StructLayout(LayoutKind.Sequential)]
    struct Timespec { public long Sec, Nsec; }

    [DllImport("libc")] static extern int clock_gettime(int clock, out Timespec ts);

    static double CpuNs()
    {
        Timespec ts;
        clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, out ts);
        return ts.Sec * 1e9 + ts.Nsec;
    }

    static void Run(string name, string config, int n)
    {
        using (var a = JwtAuth.FromJson(config))
        {
            string token = a.Issue("alice", new[] { "Admin" }, null).AccessToken;
            double best = double.MaxValue;
            for (int r = 0; r < 7; r++)
            {
                double start = CpuNs();
                for (int i = 0; i < n; i++)
                    using (a.Validate(token)) { }
                best = Math.Min(best, (CpuNs() - start) / n);
            }
            Console.WriteLine("dotnet " + name + " validate: " + best.ToString("F0") + " ns/op");
        }
    }

    static void Main(string[] args)
    {
        string dir = args.Length > 0 ? args[0] : System.IO.Path.GetTempPath();
        int n = args.Length > 1 ? int.Parse(args[1]) : 20000;
        Run("HS256", "{\"validation_cache\":0,\"algorithm\":\"HS256\",\"hs_secret\":\"bench-secret-0123456789abcdef-0123456789\"," +
            "\"store\":{\"url\":\"sqlite://" + dir + "/cs-hs.db\"}}", n * 10);
        Run("ES256", "{\"validation_cache\":0,\"algorithm\":\"ES256\",\"store\":{\"url\":\"sqlite://" + dir + "/cs-es.db\"}}", n);
    }
}
