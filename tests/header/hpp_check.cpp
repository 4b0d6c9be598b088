// Compiled with -fsyntax-only by `make check` (g++ and clang++, C++17 and
// C++20, with and without exceptions and RTTI): the C++ header must be
// self-contained, warning-free and include-guarded.
#include <selfcompress.hpp>
#include <selfcompress.hpp>

#if !defined(SC_HPP_EXCEPTIONS)
#error "selfcompress.hpp must define SC_HPP_EXCEPTIONS"
#endif
#if defined(__cpp_exceptions) != (SC_HPP_EXCEPTIONS == 1)
#error "SC_HPP_EXCEPTIONS must follow __cpp_exceptions"
#endif

int main()
{
    sc::result<sc::Net> net = sc::Net::create(1, 2, 2);
    return net.ok() && sc::version_number() != 0u ? 0 : 1;
}
