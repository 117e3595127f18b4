from vein2vein.core import services
from vein2vein.core.audit import verify_chain


def test_admin_creates_site_and_chain_verifies(admin_user):
    site = services.create_site(
        actor=admin_user, code="QC-1", name="QC lab", kind="qc_lab", time_zone="Europe/Paris"
    )
    assert site.pk
    result = verify_chain()
    assert result.ok and result.count == 1
