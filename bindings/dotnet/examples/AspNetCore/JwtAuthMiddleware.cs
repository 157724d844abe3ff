// ASP.NET Core middleware that lets a request through only with a valid bearer
// token (401 with RFC 6750's WWW-Authenticate otherwise) and puts the verified
// claims into HttpContext.Items["jwtauth.claims"]; RequireRole answers 403.
// Written for .NET 8; it cannot be built on the machine CI runs on (no .NET SDK
// there), so CI compiles and tests the binding itself with Mono instead.
using System;
using System.Threading.Tasks;
using Jwtauth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Jwtauth.AspNetCore
{
    public sealed class JwtAuthMiddleware
    {
        public const string ClaimsKey = "jwtauth.claims";
        private readonly RequestDelegate next;
        private readonly JwtAuth auth;
        private readonly ILogger<JwtAuthMiddleware> log;

        public JwtAuthMiddleware(RequestDelegate next, JwtAuth auth, ILogger<JwtAuthMiddleware> log)
        {
            this.next = next;
            this.auth = auth;
            this.log = log;
        }

        public async Task InvokeAsync(HttpContext http)
        {
            var info = new RequestInfo
            {
                Client = http.Connection.RemoteIpAddress + ":" + http.Connection.RemotePort,
                Method = http.Request.Method,
                Path = http.Request.Path.Value,
                UserAgent = http.Request.Headers.UserAgent.ToString(),
                RequestId = http.TraceIdentifier,
            };
            Claims claims;
            try
            {
                // Synchronous and fast (microseconds); the error travels with the call,
                // so it is safe however async code hops between threads.
                claims = auth.ValidateHeader(http.Request.Headers.Authorization.ToString(), info);
            }
            catch (JwtAuthException e) when (e.TokenRefused)
            {
                log.LogInformation("token refused: {Reason}", e.Reason);
                http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\", error_description=\"" + e.Reason + "\"";
                return;
            }
            using (claims)
            {
                http.Items[ClaimsKey] = claims;
                await next(http);
            }
        }

        /// <summary>In a handler: 403 unless the request's claims carry role.</summary>
        public static bool RequireRole(HttpContext http, JwtAuth auth, string role)
        {
            var claims = (Claims)http.Items[ClaimsKey];
            try
            {
                auth.RequireRole(claims, role, null);
                return true;
            }
            catch (JwtAuthException e) when (e.Forbidden)
            {
                http.Response.StatusCode = StatusCodes.Status403Forbidden;
                http.Response.Headers.WWWAuthenticate = "Bearer error=\"insufficient_scope\"";
                return false;
            }
        }
    }

    public static class Program
    {
        public static void Main(string[] args)
        {
            var builder = WebApplication.CreateBuilder(args);
            // One runtime for the process: thread-safe, shared by every request.
            builder.Services.AddSingleton(_ => JwtAuth.FromJson("{\"algorithm\":\"HS256\",\"store\":{\"url\":\"sqlite://example.db\"}}"));
            var app = builder.Build();
            app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments("/api"), api => api.UseMiddleware<JwtAuthMiddleware>());
            app.MapGet("/api/hello", (HttpContext http) => "hello " + ((Claims)http.Items[JwtAuthMiddleware.ClaimsKey]).Subject);
            app.MapGet("/api/admin", (HttpContext http, JwtAuth auth) =>
                JwtAuthMiddleware.RequireRole(http, auth, "Admin") ? Results.Ok("admin area") : Results.Empty);
            app.Run();
        }
    }
}
