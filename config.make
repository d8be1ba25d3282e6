# Sourced by nginx's configure after it wrote the Makefile: a rule that builds our C++ code
# with CMake, against the objs/ headers this configure run produced.
cat << END >> $NGX_MAKEFILE

$SSO_CMAKE_BUILD/libsso_module_static.a: $NGX_OBJS/ngx_auto_config.h
	cmake -S $ngx_addon_dir -B $SSO_CMAKE_BUILD -DSSO_NGINX_SRC=\$(CURDIR) -DSSO_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
	cmake --build $SSO_CMAKE_BUILD --target sso_module_static sso_core

END
