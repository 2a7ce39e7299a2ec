"""CloudFormation's limits on a template, as the deployment meets them (pure core: constants only).

The exported template is read (``core.bundle``) and made deployable (``core.transform``) against
the same numbers; the AWS boundary chooses TemplateBody or TemplateURL by them.
"""

from __future__ import annotations

# A TemplateBody of at most 51,200 bytes, a TemplateURL object of at most "1 MB", which
# CloudFormation (and cfn-lint, which encodes its limits) counts as 1,000,000 bytes.
INLINE_TEMPLATE_LIMIT = 51_200
URL_TEMPLATE_LIMIT = 1_000_000
# CloudFormation's per-template quotas (cfn-lint E1001/E2010/E6010 encode the same numbers).
RESOURCE_LIMIT = 500
PARAMETER_LIMIT = 200
OUTPUT_LIMIT = 200
