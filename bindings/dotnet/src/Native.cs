// P/Invoke declarations of libjwtauth (include/jwtauth.h). Strings cross as
// NUL-terminated UTF-8 byte arrays, so marshalling is the same on Mono and .NET.
// Only the _ex functions are used for calls that can fail with details: their
// error object comes back with the call, and async code that resumes on another
// thread cannot read another call's error.
using System;
using System.Runtime.InteropServices;

namespace Jwtauth
{
    internal static class Native
    {
        private const string Lib = "jwtauth";

        [DllImport(Lib)] internal static extern IntPtr jwtauth_version();
        [DllImport(Lib)] internal static extern IntPtr jwtauth_status_str(uint status);
        [DllImport(Lib)] internal static extern void jwtauth_string_free(IntPtr s);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void EventCallback(IntPtr userData, uint kind, IntPtr json, UIntPtr len);
        [DllImport(Lib)] internal static extern uint jwtauth_set_event_callback(EventCallback callback, IntPtr userData);

        [DllImport(Lib)] internal static extern IntPtr jwtauth_error_hint(IntPtr err);
        [DllImport(Lib)] internal static extern void jwtauth_error_free(IntPtr err);

        [DllImport(Lib)] internal static extern uint jwtauth_open_json_ex(byte[] json, out AuthHandle handle, out IntPtr err);
        [DllImport(Lib)] internal static extern uint jwtauth_open_ex(byte[] path, out AuthHandle handle, out IntPtr err);
        [DllImport(Lib)] internal static extern void jwtauth_close(IntPtr handle);

        [DllImport(Lib)]
        internal static extern uint jwtauth_issue_ex(AuthHandle h, byte[] subject, IntPtr[] roles, UIntPtr rolesLen,
            byte[] extraJson, out IntPtr tokens, out IntPtr err);
        [DllImport(Lib)]
        internal static extern uint jwtauth_session_start_ex(AuthHandle h, byte[] subject, IntPtr[] roles, UIntPtr rolesLen,
            byte[] extraJson, out IntPtr tokens, out IntPtr err);
        [DllImport(Lib)]
        internal static extern uint jwtauth_refresh_ex(AuthHandle h, byte[] refreshToken, ref Request request, out IntPtr tokens, out IntPtr err);
        [DllImport(Lib)]
        internal static extern uint jwtauth_revoke_ex(AuthHandle h, byte[] refreshToken, [MarshalAs(UnmanagedType.U1)] out bool known, out IntPtr err);
        [DllImport(Lib)]
        internal static extern uint jwtauth_revoke_subject_ex(AuthHandle h, byte[] subject, out ulong revoked, out IntPtr err);
        [DllImport(Lib)]
        internal static extern uint jwtauth_rotate_key_ex(AuthHandle h, byte[] algorithm, out IntPtr kid, out IntPtr err);
        [DllImport(Lib)]
        internal static extern uint jwtauth_rotate_key_now_ex(AuthHandle h, byte[] algorithm, out IntPtr kid, out IntPtr err);
        [DllImport(Lib)] internal static extern uint jwtauth_jwks_ex(AuthHandle h, out IntPtr json, out IntPtr err);

        // The hot path: the handle as IntPtr (whose memory the library never frees)
        // and the token as the string's own UTF-16 memory, passed by pointer on Mono
        // and .NET alike (not copied, not encoded: the library reads the code units).
        [DllImport(Lib)]
        internal static extern uint jwtauth_validate_utf16_ex(IntPtr h, [MarshalAs(UnmanagedType.LPWStr)] string token,
            UIntPtr len, out IntPtr claims, out IntPtr err);
        [DllImport(Lib)]
        internal static extern uint jwtauth_validate_header_ex(AuthHandle h, byte[] header, ref Request request, out IntPtr claims, out IntPtr err);
        [DllImport(Lib)]
        internal static extern uint jwtauth_require_role_ex(AuthHandle h, IntPtr claims, byte[] role, ref Request request, out IntPtr err);

        [DllImport(Lib)] internal static extern void jwtauth_claims_free(IntPtr claims);
        [DllImport(Lib)] internal static extern uint jwtauth_claims_subject(IntPtr c, out IntPtr s);
        [DllImport(Lib)] internal static extern uint jwtauth_claims_expires_at(IntPtr c, out long exp);
        [DllImport(Lib)] internal static extern uint jwtauth_claims_role_count(IntPtr c, out UIntPtr n);
        [DllImport(Lib)] internal static extern uint jwtauth_claims_role_at(IntPtr c, UIntPtr i, out IntPtr s);
        [DllImport(Lib)] internal static extern uint jwtauth_claims_has_role(IntPtr c, byte[] role, [MarshalAs(UnmanagedType.U1)] out bool has);
        [DllImport(Lib)] internal static extern uint jwtauth_claims_to_json(IntPtr c, out IntPtr json);

        [DllImport(Lib)] internal static extern void jwtauth_tokens_free(IntPtr t);
        [DllImport(Lib)] internal static extern uint jwtauth_tokens_access_token(IntPtr t, out IntPtr s);
        [DllImport(Lib)] internal static extern uint jwtauth_tokens_access_expires_at(IntPtr t, out long exp);
        [DllImport(Lib)] internal static extern uint jwtauth_tokens_jwt_id(IntPtr t, out IntPtr s);
        [DllImport(Lib)] internal static extern uint jwtauth_tokens_kid(IntPtr t, out IntPtr s);
        [DllImport(Lib)] internal static extern uint jwtauth_tokens_refresh_token(IntPtr t, out IntPtr s);
        [DllImport(Lib)] internal static extern uint jwtauth_tokens_refresh_expires_at(IntPtr t, out long exp);

        /// <summary>jwtauth_request: every field NULL or a NUL-terminated UTF-8 string (unmanaged memory).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct Request
        {
            internal IntPtr Client, Method, Path, UserAgent, RequestId;
        }

        /// <summary>NUL-terminated UTF-8, or null for null.</summary>
        internal static byte[] Utf8(string s)
        {
            if (s == null) return null;
            int n = System.Text.Encoding.UTF8.GetByteCount(s);
            var b = new byte[n + 1];
            System.Text.Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        /// <summary>Copies a NUL-terminated UTF-8 string the library owns.</summary>
        internal static string FromUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            var b = new byte[n];
            Marshal.Copy(p, b, 0, n);
            return System.Text.Encoding.UTF8.GetString(b);
        }

        /// <summary>Copies then frees a `char *` the library handed over.</summary>
        internal static string TakeString(IntPtr p)
        {
            try { return FromUtf8(p); }
            finally { jwtauth_string_free(p); }
        }
    }

    /// <summary>The jwtauth handle: closed once by the runtime when released.</summary>
    public sealed class AuthHandle : SafeHandle
    {
        public AuthHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.jwtauth_close(handle); return true; }
    }
}
