"""The ``lgsp`` CKAN plugin: wires the validators, the auth rule, the provenance action, templates
and translations. The dataset schema itself lives in schemas/dataset.yaml (ckanext-scheming) and the
DCAT mapping in dcat_profile.py (ckanext-dcat); this module only plugs them together."""

from __future__ import annotations

from typing import Any

import ckan.plugins as p
from ckan.lib.plugins import DefaultTranslation
from ckan.plugins import toolkit as tk

from . import actions, auth, cors, dublin_core, payload, request_body, text, validators


@tk.blanket.config_declarations
class LgspPlugin(p.SingletonPlugin, DefaultTranslation):
    p.implements(p.IConfigurer)
    p.implements(p.IValidators)
    p.implements(p.IAuthFunctions)
    p.implements(p.IActions)
    p.implements(p.ITranslation)
    p.implements(p.ITemplateHelpers)
    p.implements(p.IMiddleware, inherit=True)

    # IConfigurer
    def update_config(self, config: Any) -> None:
        tk.add_template_directory(config, "templates")

    # IValidators
    def get_validators(self) -> dict[str, Any]:
        return {
            "lgsp_agency_code": validators.lgsp_agency_code,
            "lgsp_admin_unit_code": validators.lgsp_admin_unit_code,
            "lgsp_text": text.refuse_unwritable,
        }

    # IAuthFunctions
    def get_auth_functions(self) -> dict[str, Any]:
        return auth.get_auth_functions()

    # IActions
    def get_actions(self) -> dict[str, Any]:
        return {**payload.get_actions(), "lgsp_provenance_show": actions.lgsp_provenance_show}

    # ITemplateHelpers
    def get_helpers(self) -> dict[str, Any]:
        return {"lgsp_is_managed": lambda pkg: auth.is_true((pkg or {}).get("lgsp_managed", "")),
                "lgsp_dublin_core": lambda pkg: dublin_core.elements(pkg or {})}

    # IMiddleware: CORS on the public read paths (cors.py); too-deep JSON bodies are a 400 (request_body.py)
    def make_middleware(self, app: Any, config: Any) -> Any:
        return cors.install(request_body.install(app))
