module example.invalid/jwtauth/bindings/go

go 1.19
