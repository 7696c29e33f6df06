from tests.support.accounts import log_in


def test_login_page_is_titled_for_officials(client):
    response = client.get("/dang-nhap")
    assert response.status_code == 200
    assert "Đăng nhập dành cho cán bộ, công chức" in response.get_data(as_text=True)


def test_province_home_shows_its_province(client, province_user):
    log_in(client, province_user)
    page = client.get("/").get_data(as_text=True)
    assert "Thành phố Hà Nội" in page
