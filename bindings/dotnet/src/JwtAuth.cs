// jwtauth for .NET: issue, validate and refresh JSON Web Tokens with libjwtauth.
// A thin layer over the C ABI; every rule lives in the library.
using System;
using System.Collections.Generic;
using System.Runtime.ConstrainedExecution;
using System.Runtime.InteropServices;
using System.Threading;

namespace Jwtauth
{
    /// <summary>A failed call: the stable status number, its name (the failure reason,
    /// e.g. "expired") and a hint for humans. Never a secret or a whole token.</summary>
    public class JwtAuthException : Exception
    {
        public uint Status { get; private set; }
        public string Reason { get; private set; }
        public string Hint { get; private set; }

        public JwtAuthException(uint status, string reason, string hint)
            : base(string.IsNullOrEmpty(hint) ? reason : reason + ": " + hint)
        {
            Status = status;
            Reason = reason;
            Hint = hint ?? "";
        }

        /// <summary>The presented token or header was refused (answer 401).</summary>
        public bool TokenRefused { get { return Status >= 1 && Status <= 13; } }

        /// <summary>A required role is missing (answer 403).</summary>
        public bool Forbidden { get { return Status == 14; } }

        internal static void Check(uint status, IntPtr err)
        {
            if (status == 0) return;
            string hint;
            try { hint = Native.FromUtf8(Native.jwtauth_error_hint(err)); }
            finally { Native.jwtauth_error_free(err); }
            throw new JwtAuthException(status, Name(status), hint);
        }

        internal static void CheckStatus(uint status)
        {
            if (status != 0) throw new JwtAuthException(status, Name(status), "");
        }

        internal static string Name(uint status) { return Native.FromUtf8(Native.jwtauth_status_str(status)); }
    }

    /// <summary>Request context recorded with a failure in the failure log; any field may be null.</summary>
    public sealed class RequestInfo
    {
        public string Client, Method, Path, UserAgent, RequestId;
    }

    /// <summary>Tokens just issued, copied out of the library (whose copy is wiped).</summary>
    public sealed class Tokens
    {
        public string AccessToken { get; internal set; }
        public long ExpiresAt { get; internal set; }
        public string JwtId { get; internal set; }
        public string Kid { get; internal set; }
        /// <summary>Null for Issue; set for SessionStart and Refresh.</summary>
        public string RefreshToken { get; internal set; }
        public long RefreshExpiresAt { get; internal set; }

        /// <summary>Never prints a bearer credential.</summary>
        public override string ToString() { return "Tokens(kid=" + Kid + ", jti=" + JwtId + ", exp=" + ExpiresAt + ")"; }

        internal static Tokens Take(IntPtr t)
        {
            try
            {
                IntPtr s;
                long i;
                var o = new Tokens();
                JwtAuthException.CheckStatus(Native.jwtauth_tokens_access_token(t, out s));
                o.AccessToken = Native.FromUtf8(s);
                JwtAuthException.CheckStatus(Native.jwtauth_tokens_access_expires_at(t, out i));
                o.ExpiresAt = i;
                JwtAuthException.CheckStatus(Native.jwtauth_tokens_jwt_id(t, out s));
                o.JwtId = Native.FromUtf8(s);
                JwtAuthException.CheckStatus(Native.jwtauth_tokens_kid(t, out s));
                o.Kid = Native.FromUtf8(s);
                if (Native.jwtauth_tokens_refresh_token(t, out s) == 0)
                {
                    o.RefreshToken = Native.FromUtf8(s);
                    JwtAuthException.CheckStatus(Native.jwtauth_tokens_refresh_expires_at(t, out i));
                    o.RefreshExpiresAt = i;
                }
                return o;
            }
            finally { Native.jwtauth_tokens_free(t); }
        }
    }

    /// <summary>The verified claims of a token; readable from any thread. Dispose when done.
    /// Freed exactly once: by Dispose, after any call reading them on another thread has
    /// returned (a call after Dispose throws ObjectDisposedException), or, if never
    /// disposed, by a finalizer. Not a SafeHandle each: on Mono allocating and releasing
    /// one per validation cost more than the rest of the binding, so the claims of 64
    /// validations share one finalizable object (ClaimsSlab), so claims never disposed
    /// are freed once all 64 are unreachable.</summary>
    public sealed class Claims : IDisposable
    {
        /// <summary>The slab holding the native claims; referring to it keeps it from
        /// being finalized while this Claims is reachable.</summary>
        private readonly ClaimsSlab slab;
        /// <summary>This claims' slot in the slab.</summary>
        private readonly int slot;

        /// <summary>Takes ownership of claims the library returned.</summary>
        internal Claims(IntPtr claims) { slab = ClaimsSlab.Take(claims, out slot); }

        /// <summary>Frees the claims; a second call does nothing. A call reading them on
        /// another thread meanwhile still reads them: the last of the two frees.</summary>
        public void Dispose() { slab.Dispose(slot); }

        /// <summary>The native claims, held (not freed, even by a Dispose meanwhile) until
        /// Exit: what SafeHandle.DangerousAddRef does. Throws ObjectDisposedException once
        /// disposed.</summary>
        internal IntPtr Enter() { return slab.Enter(slot); }

        /// <summary>Ends what Enter began; frees the claims if disposed meanwhile.</summary>
        internal void Exit() { slab.Exit(slot); }

        /// <summary>Runs read on the native claims held from Enter to Exit: a string the
        /// library returns is borrowed from the claims, so it is copied before they can be
        /// freed.</summary>
        private T Borrowing<T>(Func<IntPtr, T> read)
        {
            IntPtr p = Enter();
            try { return read(p); }
            finally { Exit(); }
        }

        /// <summary>`sub`, never empty.</summary>
        public string Subject
        {
            get
            {
                return Borrowing(p =>
                {
                    IntPtr s;
                    JwtAuthException.CheckStatus(Native.jwtauth_claims_subject(p, out s));
                    return Native.FromUtf8(s);
                });
            }
        }

        /// <summary>`exp`, seconds since the Unix epoch.</summary>
        public long ExpiresAt
        {
            get
            {
                return Borrowing(p =>
                {
                    long e;
                    JwtAuthException.CheckStatus(Native.jwtauth_claims_expires_at(p, out e));
                    return e;
                });
            }
        }

        /// <summary>The values of the roles claim, in order.</summary>
        public IList<string> Roles
        {
            get
            {
                return Borrowing<IList<string>>(p =>
                {
                    UIntPtr n;
                    JwtAuthException.CheckStatus(Native.jwtauth_claims_role_count(p, out n));
                    var roles = new List<string>();
                    for (ulong i = 0; i < n.ToUInt64(); i++)
                    {
                        IntPtr s;
                        JwtAuthException.CheckStatus(Native.jwtauth_claims_role_at(p, new UIntPtr(i), out s));
                        roles.Add(Native.FromUtf8(s));
                    }
                    return roles;
                });
            }
        }

        /// <summary>Whether the roles claim holds role (compared exactly).</summary>
        public bool HasRole(string role)
        {
            byte[] r = Native.Utf8(role);
            return Borrowing(p =>
            {
                bool has;
                JwtAuthException.CheckStatus(Native.jwtauth_claims_has_role(p, r, out has));
                return has;
            });
        }

        /// <summary>Every claim as a JSON object text.</summary>
        public string ToJson()
        {
            IntPtr s = Borrowing(p =>
            {
                IntPtr json;
                JwtAuthException.CheckStatus(Native.jwtauth_claims_to_json(p, out json));
                return json;
            });
            return Native.TakeString(s);
        }
    }

    /// <summary>The native claims of 64 validations and one finalizer for them all. A
    /// Claims refers to its slab, so the finalizer runs only once none of its 64 Claims
    /// is reachable, and then frees those never disposed. A critical finalizer, like a
    /// SafeHandle's: it runs after the ordinary finalizers of objects collected with it,
    /// which may still read their claims. Each slot counts the calls reading it
    /// (Enter/Exit) next to a disposed bit, so a Dispose racing readers frees after the
    /// last of them, and every slot is freed exactly once.</summary>
    internal sealed class ClaimsSlab : CriticalFinalizerObject
    {
        /// <summary>Claims per slab: one finalizable object per 64 validations.</summary>
        private const int Size = 64;
        /// <summary>A slot's disposed bit; the other bits count its readers.</summary>
        private const int Disposed = int.MinValue;
        /// <summary>The slab handing out slots now; replaced once full.</summary>
        private static ClaimsSlab current = new ClaimsSlab();
        /// <summary>Each slot's native claims (zero for a slot never handed out).</summary>
        private readonly IntPtr[] claims = new IntPtr[Size];
        /// <summary>Each slot's state: its readers in flight, plus Disposed once disposed.</summary>
        private readonly int[] state = new int[Size];
        /// <summary>How many slots were asked for (past Size once full).</summary>
        private int taken;

        /// <summary>Stores claims in a free slot of the current slab; returns the slab.</summary>
        internal static ClaimsSlab Take(IntPtr claims, out int slot)
        {
            while (true)
            {
                ClaimsSlab s = Volatile.Read(ref current);
                int i = Interlocked.Increment(ref s.taken) - 1;
                if (i < Size)
                {
                    s.claims[i] = claims;
                    slot = i;
                    return s;
                }
                // Full: one of the threads here installs a fresh slab, all retry on it.
                if (Volatile.Read(ref current) == s) Interlocked.CompareExchange(ref current, new ClaimsSlab(), s);
            }
        }

        /// <summary>Counts a reader of slot i and returns its claims; throws
        /// ObjectDisposedException once the slot is disposed.</summary>
        internal IntPtr Enter(int i)
        {
            while (true)
            {
                int u = Volatile.Read(ref state[i]);
                if (u < 0) throw new ObjectDisposedException(typeof(Claims).FullName);
                if (Interlocked.CompareExchange(ref state[i], u + 1, u) == u) return claims[i];
            }
        }

        /// <summary>Uncounts a reader of slot i; the last reader of a disposed slot frees it.</summary>
        internal void Exit(int i)
        {
            if (Interlocked.Decrement(ref state[i]) == Disposed) Free(i);
        }

        /// <summary>Marks slot i disposed, once; frees it now if nobody reads it, else the
        /// last reader does.</summary>
        internal void Dispose(int i)
        {
            while (true)
            {
                int u = Volatile.Read(ref state[i]);
                if (u < 0) return;
                if (Interlocked.CompareExchange(ref state[i], u | Disposed, u) == u)
                {
                    if (u == 0) Free(i);
                    return;
                }
            }
        }

        /// <summary>Frees the claims of slot i: called once, by whoever left it disposed
        /// and unread.</summary>
        private void Free(int i)
        {
            if (claims[i] != IntPtr.Zero) Native.jwtauth_claims_free(claims[i]);
        }

        /// <summary>Frees the claims of the slots never disposed.</summary>
        ~ClaimsSlab()
        {
            for (int i = 0; i < Size; i++) Dispose(i);
        }
    }

    /// <summary>An open jwtauth runtime. Thread-safe: share one instance across threads
    /// and async code. Dispose it (or let the SafeHandle release it) when done.</summary>
    public sealed class JwtAuth : IDisposable
    {
        private readonly AuthHandle h;

        private JwtAuth(AuthHandle handle) { h = handle; }

        /// <summary>The library's version ("MAJOR.MINOR.PATCH").</summary>
        public static string Version { get { return Native.FromUtf8(Native.jwtauth_version()); } }

        /// <summary>Opens from a JSON object with the keys of jwtauth.toml.</summary>
        public static JwtAuth FromJson(string json)
        {
            AuthHandle handle;
            IntPtr err;
            uint s = Native.jwtauth_open_json_ex(Native.Utf8(json), out handle, out err);
            if (s != 0) { handle.Dispose(); JwtAuthException.Check(s, err); }
            return new JwtAuth(handle);
        }

        /// <summary>Opens from a jwtauth.toml file (null: $JWTAUTH_CONFIG, ./jwtauth.toml, defaults).</summary>
        public static JwtAuth Open(string configPath)
        {
            AuthHandle handle;
            IntPtr err;
            uint s = Native.jwtauth_open_ex(Native.Utf8(configPath), out handle, out err);
            if (s != 0) { handle.Dispose(); JwtAuthException.Check(s, err); }
            return new JwtAuth(handle);
        }

        public void Dispose() { h.Dispose(); }

        private static readonly object eventLock = new object();
        // The registered delegate, kept reachable so the GC never frees what C calls.
        private static Native.EventCallback eventCallback;

        /// <summary>Whether an event handler is registered.</summary>
        public static bool HasEventHandler { get { lock (eventLock) return eventCallback != null; } }

        /// <summary>Routes the library's failure events ("failure": a failure log line as
        /// JSON) and warnings ("warning") to handler, process-wide, e.g. into ILogger; null
        /// drops them. Without a handler and without log.dir the library writes no file
        /// and nothing to stderr. Called on the thread of the failing call, possibly on
        /// several at once; exceptions it throws are swallowed (they cannot cross C).</summary>
        public static void SetEventHandler(Action<string, string> handler)
        {
            lock (eventLock)
            {
                Native.EventCallback cb = null;
                if (handler != null)
                {
                    cb = (userData, kind, json, len) =>
                    {
                        try { handler(kind == 1 ? "failure" : "warning", Native.FromUtf8(json)); }
                        catch (Exception) { }
                    };
                }
                JwtAuthException.CheckStatus(Native.jwtauth_set_event_callback(cb, IntPtr.Zero));
                // Replaced only after the library stopped calling the previous one.
                eventCallback = cb;
            }
        }

        /// <summary>Validates a compact JWS strictly; throws JwtAuthException (Reason "expired", ...).
        /// A NUL character in token makes it malformed.</summary>
        public Claims Validate(string token)
        {
            IntPtr c, err;
            string t = token ?? "";
            if (h.IsClosed) throw new ObjectDisposedException(typeof(JwtAuth).FullName);
            // The handle is passed without DangerousAddRef/DangerousRelease (two atomic
            // updates a call): the library never frees a handle's memory (jwtauth_close
            // leaves a tombstone, and a call in flight holds the runtime), so a Dispose
            // racing this call makes it fail with "closed", never read freed memory.
            uint s = Native.jwtauth_validate_utf16_ex(h.DangerousGetHandle(), t, new UIntPtr((uint)t.Length), out c, out err);
            JwtAuthException.Check(s, err);
            return new Claims(c);
        }

        /// <summary>Validates the token of a whole Authorization header value; null = none sent.
        /// A NUL character in header makes it malformed, as in Validate.</summary>
        public Claims ValidateHeader(string header, RequestInfo request)
        {
            if (header != null && header.IndexOf('\0') >= 0)
                throw new JwtAuthException(3, "malformed", "the Authorization header holds a NUL byte");
            var req = new Req(request);
            try
            {
                IntPtr c, err;
                uint s = Native.jwtauth_validate_header_ex(h, Native.Utf8(header), ref req.Value, out c, out err);
                JwtAuthException.Check(s, err);
                return new Claims(c);
            }
            finally { req.Free(); }
        }

        /// <summary>Throws (Reason "insufficient_role", recorded as a failure) unless the claims carry role.</summary>
        public void RequireRole(Claims claims, string role, RequestInfo request)
        {
            if (claims == null) throw new ArgumentNullException("claims");
            var req = new Req(request);
            try
            {
                IntPtr err, c = claims.Enter();
                uint s;
                try { s = Native.jwtauth_require_role_ex(h, c, Native.Utf8(role), ref req.Value, out err); }
                finally { claims.Exit(); }
                JwtAuthException.Check(s, err);
            }
            finally { req.Free(); }
        }

        public Tokens Issue(string subject, IList<string> roles, string extraJson)
        {
            return IssueOrStart(subject, roles, extraJson, false);
        }

        /// <summary>Starts a session (after the application checked credentials): access and refresh token.</summary>
        public Tokens SessionStart(string subject, IList<string> roles, string extraJson)
        {
            return IssueOrStart(subject, roles, extraJson, true);
        }

        private Tokens IssueOrStart(string subject, IList<string> roles, string extraJson, bool session)
        {
            int n = roles == null ? 0 : roles.Count;
            var arr = new IntPtr[n];
            try
            {
                for (int i = 0; i < n; i++)
                {
                    byte[] b = Native.Utf8(roles[i]);
                    arr[i] = Marshal.AllocHGlobal(b.Length);
                    Marshal.Copy(b, 0, arr[i], b.Length);
                }
                IntPtr t, err;
                uint s = session
                    ? Native.jwtauth_session_start_ex(h, Native.Utf8(subject), n == 0 ? null : arr, new UIntPtr((uint)n), Native.Utf8(extraJson), out t, out err)
                    : Native.jwtauth_issue_ex(h, Native.Utf8(subject), n == 0 ? null : arr, new UIntPtr((uint)n), Native.Utf8(extraJson), out t, out err);
                JwtAuthException.Check(s, err);
                return Tokens.Take(t);
            }
            finally
            {
                foreach (IntPtr p in arr) if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
        }

        /// <summary>Spends a refresh token for new tokens; a spent one again gives "refresh_reused".</summary>
        public Tokens Refresh(string refreshToken, RequestInfo request)
        {
            var req = new Req(request);
            try
            {
                IntPtr t, err;
                uint s = Native.jwtauth_refresh_ex(h, Native.Utf8(refreshToken), ref req.Value, out t, out err);
                JwtAuthException.Check(s, err);
                return Tokens.Take(t);
            }
            finally { req.Free(); }
        }

        public bool Revoke(string refreshToken)
        {
            bool known;
            IntPtr err;
            JwtAuthException.Check(Native.jwtauth_revoke_ex(h, Native.Utf8(refreshToken), out known, out err), err);
            return known;
        }

        public ulong RevokeSubject(string subject)
        {
            ulong n;
            IntPtr err;
            JwtAuthException.Check(Native.jwtauth_revoke_subject_ex(h, Native.Utf8(subject), out n, out err), err);
            return n;
        }

        /// <summary>A new signing key of algorithm (null or "": the configured one), in the JWKS
        /// at once and signing from key_publish_ahead on; returns its kid.</summary>
        public string RotateKey(string algorithm)
        {
            IntPtr kid, err;
            JwtAuthException.Check(Native.jwtauth_rotate_key_ex(h, Native.Utf8(algorithm), out kid, out err), err);
            return Native.TakeString(kid);
        }

        /// <summary>The emergency rotation: the new key signs at once (relying parties that cached
        /// the JWKS refuse its tokens until they fetch it again); returns its kid.</summary>
        public string RotateKeyNow(string algorithm)
        {
            IntPtr kid, err;
            JwtAuthException.Check(Native.jwtauth_rotate_key_now_ex(h, Native.Utf8(algorithm), out kid, out err), err);
            return Native.TakeString(kid);
        }

        public string Jwks()
        {
            IntPtr s, err;
            JwtAuthException.Check(Native.jwtauth_jwks_ex(h, out s, out err), err);
            return Native.TakeString(s);
        }

        /// <summary>A jwtauth_request in unmanaged memory for the length of one call.</summary>
        private struct Req
        {
            internal Native.Request Value;

            internal Req(RequestInfo r)
            {
                Value = new Native.Request();
                if (r == null) return;
                Value.Client = Alloc(r.Client);
                Value.Method = Alloc(r.Method);
                Value.Path = Alloc(r.Path);
                Value.UserAgent = Alloc(r.UserAgent);
                Value.RequestId = Alloc(r.RequestId);
            }

            private static IntPtr Alloc(string s)
            {
                if (s == null) return IntPtr.Zero;
                byte[] b = Native.Utf8(s);
                IntPtr p = Marshal.AllocHGlobal(b.Length);
                Marshal.Copy(b, 0, p, b.Length);
                return p;
            }

            internal void Free()
            {
                foreach (IntPtr p in new[] { Value.Client, Value.Method, Value.Path, Value.UserAgent, Value.RequestId })
                    if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
        }
    }
}
